"""`flask --app wsgi <command>`: init-db, seed-demo, create-user, send-mail."""
import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from clinica_web.models import ROLES
from clinica_web.services import accounts, clinic, demo, notifications
from clinica_web.services.errors import DomainError


def init_app(app):
    for command in (init_db, seed_demo, create_user, send_mail):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the schema, or bring it up to date (runs the migrations)."""
    upgrade()
    click.echo("Database is up to date.")


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the demo clinic, only into an empty database, and print the logins."""
    if not demo.is_empty():
        click.echo("The database already has users: demo data not loaded.")
        return
    demo.load(now=clinic.now())
    click.echo(f"Demo clinic loaded. Every account's password is {demo.DEMO_PASSWORD!r}:")
    for email, name, role in demo.ACCOUNTS:
        click.echo(f"  {role:<10} {email:<24} {name}")
    for email, name, specialty, _days, _windows in demo.DOCTORS:
        click.echo(f"  {'doctor':<10} {email:<24} {name}, {specialty}")


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(ROLES), default="patient", show_default=True)
@click.option("--name", "full_name", required=True, help="Full name")
def create_user(email, password, role, full_name):
    """Create an account of any role."""
    try:
        user = accounts.create_user(email=email, password=password, full_name=full_name, role=role, now=clinic.now())
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@click.command("send-mail")
@with_appcontext
@click.option("--limit", default=100, show_default=True, help="At most this many emails per run.")
def send_mail(limit):
    """Send the outbox emails that are due (failed ones are retried with backoff)."""
    sent, failed = notifications.send_due(now=clinic.now(), limit=limit)
    click.echo(f"Sent {sent} email(s); {failed} failed and will be retried.")
    if failed:
        raise SystemExit(1)
