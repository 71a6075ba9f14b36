"""The public list of doctors and specialties."""
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import Doctor


def doctors(*, specialty=None) -> list[Doctor]:
    query = select(Doctor).where(Doctor.active).order_by(Doctor.specialty, Doctor.display_name)
    if specialty:
        query = query.where(Doctor.specialty == specialty)
    return list(db.session.scalars(query))


def specialties() -> list[str]:
    return list(db.session.scalars(select(Doctor.specialty).where(Doctor.active).distinct().order_by(Doctor.specialty)))
