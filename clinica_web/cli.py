"""`flask --app wsgi <command>`: init-db, seed-demo, create-user, create-api-token,
list-api-tokens, revoke-api-token, send-mail, worker."""
import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from clinica_web import worker as background
from clinica_web.models import ROLES
from clinica_web.services import accounts, clinic, demo, notifications, tokens
from clinica_web.services.errors import DomainError


def init_app(app):
    for command in (init_db, seed_demo, create_user, create_api_token, list_api_tokens, revoke_api_token, send_mail,
                    worker):
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


@click.command("create-api-token")
@with_appcontext
@click.option("--email", required=True, help="A staff account (doctor, reception or admin)")
@click.option("--name", default="API token", show_default=True, help="What the token is for")
def create_api_token(email, name):
    """Create a clinic API token and print it (once: only its digest is stored)."""
    user = accounts.find_by_email(email.strip())
    if user is None:
        raise click.ClickException(f"No account with email {email}")
    try:
        token = tokens.create_api_token(user, name=name, now=clinic.now())
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(token)


@click.command("revoke-api-token")
@with_appcontext
@click.argument("token_id", type=int)
def revoke_api_token(token_id):
    """Revoke an API token by its id (`list-api-tokens` shows them)."""
    try:
        revoked = tokens.revoke_api_token(token_id, now=clinic.now())
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Revoked token {revoked.id} ({revoked.name}) of {revoked.user.email}.")


@click.command("list-api-tokens")
@with_appcontext
def list_api_tokens():
    """List API tokens: id, owner, name, created, revoked."""
    for token in tokens.all_tokens():
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
        click.echo(f"{token.id:>4}  {token.user.email:<30} {token.name:<20} {token.created_at:%Y-%m-%d}  {state}")


@click.command("send-mail")
@with_appcontext
@click.option("--limit", default=100, show_default=True, help="At most this many emails per run.")
def send_mail(limit):
    """Send the outbox emails that are due (failed ones are retried with backoff)."""
    sent, failed = notifications.send_due(now=clinic.now(), limit=limit)
    click.echo(f"Sent {sent} email(s); {failed} failed and will be retried.")
    if failed:
        raise SystemExit(1)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Do one pass and exit (for cron, and tests).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=None,
              help="Seconds between passes [default: WORKER_INTERVAL_SECONDS, 3].")
def worker(once, interval):
    """Run the background worker: send due emails (and reset links) until stopped."""
    if once:
        done = background.run_once(now=clinic.now())
        click.echo(f"Sent {done['sent']} email(s); {done['failed']} failed and will be retried; "
                   f"{done['reset_requests']} password reset request(s) handled.")
        return
    app = current_app._get_current_object()
    background.run_until_stopped(app, interval=interval or app.config["WORKER_INTERVAL_SECONDS"], report=click.echo)
