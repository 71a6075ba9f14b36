from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from clinica_web.services.accounts import MAX_NAME, MAX_PASSWORD, MIN_PASSWORD


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=MAX_NAME)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    phone = TelField(_l("Phone (optional)"), validators=[Optional(), Length(max=40)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        description=_l("At least %(num)d characters.", num=MIN_PASSWORD),
    )
    confirm = PasswordField(_l("Repeat password"),
                            validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        description=_l("At least %(num)d characters.", num=MIN_PASSWORD),
    )
    confirm = PasswordField(_l("Repeat password"),
                            validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))])
