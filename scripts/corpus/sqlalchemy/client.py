#!/usr/bin/python3
"""pgmedic statement corpus client: SQLAlchemy 1.4 over psycopg2.

Run with Debian's interpreter (/usr/bin/python3, packages python3-sqlalchemy and
python3-psycopg2). `client.py core` uses the SQL Expression Language (Core), `client.py orm`
the declarative ORM with a Session; both in 2.0 style (future=True). psycopg2 interpolates
parameters on the client and sends each statement with the simple query protocol.

Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.
"""
import datetime as dt
import decimal
import os
import random
import sys

from sqlalchemy import (
    BigInteger, Boolean, CHAR, Column, Date, DateTime, FetchedValue, ForeignKey, Integer, MetaData,
    Numeric, SmallInteger, Table, Text, and_, case, create_engine, delete, exists, func,
    insert, literal, null, or_, select, update,
)
from sqlalchemy.dialects.postgresql import INET, JSONB, insert as pg_insert
from sqlalchemy.orm import Session, aliased, declarative_base, joinedload, relationship, selectinload

ITER = int(os.environ.get("CORPUS_ITERATIONS", "8"))
rnd = random.Random(1)

metadata = MetaData()

payers = Table(
    "payers", metadata,
    Column("id", Integer, primary_key=True),
    Column("payer_code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("payer_type", Text, nullable=False),
    Column("state", CHAR(2)),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
)
plans = Table(
    "plans", metadata,
    Column("id", Integer, primary_key=True),
    Column("payer_id", Integer, ForeignKey("payers.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("plan_type", Text, nullable=False),
    Column("group_number", Text),
    Column("is_active", Boolean, server_default=FetchedValue()),
)
providers = Table(
    "providers", metadata,
    Column("id", Integer, primary_key=True),
    Column("npi", Text, nullable=False),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("organization_name", Text),
    Column("specialty", Text, nullable=False),
    Column("taxonomy_code", Text, nullable=False),
    Column("network", Text, nullable=False),
    Column("state", CHAR(2), nullable=False),
    Column("is_active", Boolean, server_default=FetchedValue()),
    Column("accepting_new_patients", Boolean, server_default=FetchedValue()),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
)
patients = Table(
    "patients", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("mrn", Text, nullable=False),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("sex", CHAR(1), nullable=False),
    Column("ssn", Text),
    Column("address_line1", Text),
    Column("city", Text),
    Column("state", CHAR(2)),
    Column("postal_code", Text),
    Column("phone", Text),
    Column("email", Text),
    Column("insurance_member_id", Text),
    Column("plan_id", Integer, ForeignKey("plans.id")),
    Column("primary_provider_id", Integer, ForeignKey("providers.id")),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
    Column("updated_at", DateTime(timezone=True), server_default=FetchedValue()),
)
icd10_codes = Table(
    "icd10_codes", metadata,
    Column("code", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("chapter", Text, nullable=False),
    Column("is_billable", Boolean, server_default=FetchedValue()),
)
cpt_codes = Table(
    "cpt_codes", metadata,
    Column("code", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("relative_value", Numeric(6, 2), nullable=False),
)
claims = Table(
    "claims", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("claim_number", Text, nullable=False),
    Column("patient_id", BigInteger, ForeignKey("patients.id"), nullable=False),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False),
    Column("payer_id", Integer, ForeignKey("payers.id"), nullable=False),
    Column("plan_id", Integer, ForeignKey("plans.id")),
    Column("claim_type", Text, nullable=False),
    Column("date_of_service", Date, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("pend_reason", Text),
    Column("primary_diagnosis", Text, ForeignKey("icd10_codes.code")),
    Column("billed_amount", Numeric(12, 2), nullable=False),
    Column("allowed_amount", Numeric(12, 2)),
    Column("paid_amount", Numeric(12, 2)),
    Column("patient_responsibility", Numeric(12, 2)),
    Column("adjudicated_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), server_default=FetchedValue()),
)
claim_lines = Table(
    "claim_lines", metadata,
    Column("claim_id", BigInteger, ForeignKey("claims.id"), primary_key=True),
    Column("line_number", SmallInteger, primary_key=True),
    Column("cpt_code", Text, ForeignKey("cpt_codes.code")),
    Column("hcpcs_code", Text),
    Column("icd10_code", Text, ForeignKey("icd10_codes.code"), nullable=False),
    Column("modifier", Text),
    Column("units", Integer, nullable=False),
    Column("billed_amount", Numeric(12, 2), nullable=False),
    Column("allowed_amount", Numeric(12, 2)),
    Column("paid_amount", Numeric(12, 2)),
    Column("service_date", Date, nullable=False),
)
appointments = Table(
    "appointments", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("patient_id", BigInteger, ForeignKey("patients.id"), nullable=False),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False),
    Column("scheduled_date_time", DateTime(timezone=True), nullable=False),
    Column("duration", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("appointment_type", Text, nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
)
availabilities = Table(
    "availabilities", metadata,
    Column("id", Integer, primary_key=True),
    Column("provider_id", Integer, ForeignKey("providers.id"), nullable=False),
    Column("day_of_week", SmallInteger, nullable=False),
    Column("start_time", Text),
    Column("end_time", Text),
    Column("location", Text),
)
payments = Table(
    "payments", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("claim_id", BigInteger, ForeignKey("claims.id"), nullable=False),
    Column("payer_id", Integer, ForeignKey("payers.id"), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("method", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("trace_number", Text),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
    Column("posted_at", DateTime(timezone=True)),
)
users = Table(
    "users", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("email", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("is_active", Boolean, server_default=FetchedValue()),
    Column("user_type", Text, nullable=False),
    Column("patient_id", BigInteger, ForeignKey("patients.id")),
    Column("provider_id", Integer, ForeignKey("providers.id")),
    Column("last_login_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), server_default=FetchedValue()),
)
audit_logs = Table(
    "audit_logs", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id")),
    Column("action", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("client_ip", INET),
    Column("occurred_at", DateTime(timezone=True), server_default=FetchedValue()),
    Column("details", JSONB),
)

STATUSES = ["received", "pended", "adjudicated", "paid", "denied", "appealed", "void"]
APPS = ["ehr-web", "scheduler", "billing", "portal"]
NAMES = ["smi", "john", "mar", "lee", "gar", "wil", "br", "and"]


def day(year_lo=2020, year_hi=2026):
    return dt.date(rnd.randint(year_lo, year_hi), rnd.randint(1, 12), rnd.randint(1, 28))


def some(seq, k):
    return rnd.sample(list(seq), k)


# ---------------------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------------------

def run_core(engine):
    with engine.connect() as conn:
        mrns = conn.execute(select(patients.c.mrn).order_by(patients.c.id).limit(50)).scalars().all()
        npis = conn.execute(select(providers.c.npi).order_by(providers.c.id).limit(50)).scalars().all()
        emails = conn.execute(
            select(users.c.email).where(users.c.is_active.is_(True)).order_by(users.c.id).limit(50)
        ).scalars().all()
        user_ids = conn.execute(select(users.c.id).order_by(users.c.id).limit(100)).scalars().all()
        max_claim = conn.execute(select(func.max(claims.c.id))).scalar()
        max_patient = conn.execute(select(func.max(patients.c.id))).scalar()
        max_provider = conn.execute(select(func.max(providers.c.id))).scalar()

    for i in range(ITER):
        pid = rnd.randint(1, max_patient)
        prov = rnd.randint(1, max_provider)
        cid = rnd.randint(1, max_claim)
        d0 = day()
        d1 = d0 + dt.timedelta(days=rnd.randint(30, 365))
        with engine.connect() as conn:
            # lookups by id and natural keys
            conn.execute(select(patients).where(patients.c.id == pid)).first()
            conn.execute(select(patients.c.id, patients.c.first_name, patients.c.last_name)
                         .where(patients.c.mrn == rnd.choice(mrns))).first()
            conn.execute(select(providers).where(providers.c.npi == rnd.choice(npis))).first()
            conn.execute(select(users.c.id, users.c.password_hash, users.c.user_type)
                         .where(func.lower(users.c.email) == rnd.choice(emails).lower(),
                                users.c.is_active.is_(True))).first()
            # paged list
            conn.execute(select(patients.c.id, patients.c.mrn, patients.c.last_name, patients.c.first_name)
                         .order_by(patients.c.last_name, patients.c.first_name, patients.c.id)
                         .limit(25).offset(25 * i)).all()
            # IN list and date range
            conn.execute(select(claims.c.id, claims.c.claim_number, claims.c.status, claims.c.billed_amount)
                         .where(claims.c.status.in_(some(STATUSES, 1 + i % 3)),
                                claims.c.date_of_service.between(d0, d1))
                         .order_by(claims.c.date_of_service.desc()).limit(50)).all()
            # ILIKE search
            term = rnd.choice(NAMES)
            conn.execute(select(patients.c.id, patients.c.first_name, patients.c.last_name)
                         .where(or_(patients.c.last_name.ilike(term + "%"),
                                    patients.c.first_name.ilike(term + "%")))
                         .order_by(patients.c.last_name).limit(20)).all()
            # join patient / claims / providers
            conn.execute(select(claims.c.claim_number, claims.c.date_of_service, claims.c.status,
                                providers.c.npi, providers.c.last_name.label("provider_last_name"),
                                payers.c.name.label("payer_name"))
                         .select_from(claims.join(providers, claims.c.provider_id == providers.c.id)
                                      .join(payers, claims.c.payer_id == payers.c.id))
                         .where(claims.c.patient_id == pid)
                         .order_by(claims.c.date_of_service.desc())).all()
            # COALESCE and aggregates, GROUP BY
            conn.execute(select(claims.c.status, func.count().label("n"),
                                func.sum(claims.c.billed_amount).label("billed"),
                                func.coalesce(func.sum(claims.c.paid_amount), 0).label("paid"))
                         .where(claims.c.provider_id == prov)
                         .group_by(claims.c.status).order_by(claims.c.status)).all()
            month = func.date_trunc("month", claims.c.date_of_service).label("month")
            conn.execute(select(payers.c.name, month,
                                func.sum(claims.c.billed_amount).label("billed"),
                                func.coalesce(func.sum(claims.c.paid_amount), literal(0)).label("paid"),
                                func.avg(claims.c.paid_amount - claims.c.allowed_amount).label("gap"))
                         .join_from(claims, payers)
                         .where(claims.c.date_of_service >= d0, claims.c.date_of_service < d1)
                         .group_by(payers.c.name, month)
                         .having(func.count() > 2)
                         .order_by(month, payers.c.name)).all()
            # CASE
            age = func.date_part("year", func.age(patients.c.date_of_birth))
            bucket = case((age < 18, "pediatric"), (age < 65, "adult"), else_="senior").label("bucket")
            conn.execute(select(bucket, func.count()).group_by(bucket).order_by(bucket)).all()
            conn.execute(select(claims.c.id,
                                case((claims.c.paid_amount.is_(None), "unpaid"),
                                     (claims.c.paid_amount < claims.c.billed_amount * 0.5, "short"),
                                     else_="ok").label("payment_state"))
                         .where(claims.c.patient_id == pid)).all()
            # EXISTS subqueries
            denied = exists().where(claims.c.patient_id == patients.c.id, claims.c.status == "denied",
                                    claims.c.date_of_service > d0)
            conn.execute(select(patients.c.id, patients.c.mrn).where(denied)
                         .order_by(patients.c.id).limit(20)).all()
            no_appt = ~exists().where(appointments.c.provider_id == providers.c.id,
                                      appointments.c.scheduled_date_time >= dt.datetime.combine(d0, dt.time(), dt.timezone.utc))
            conn.execute(select(providers.c.id, providers.c.npi).where(no_appt, providers.c.is_active)).all()
            # CTE
            recent = (select(claims.c.patient_id, func.count().label("n"), func.max(claims.c.date_of_service).label("last_dos"))
                      .where(claims.c.date_of_service >= d0).group_by(claims.c.patient_id).cte("recent"))
            conn.execute(select(patients.c.mrn, patients.c.last_name, recent.c.n, recent.c.last_dos)
                         .join(recent, recent.c.patient_id == patients.c.id)
                         .where(recent.c.n >= 2).order_by(recent.c.n.desc()).limit(10)).all()
            # window functions
            rk = func.rank().over(partition_by=claims.c.provider_id, order_by=claims.c.billed_amount.desc()).label("rk")
            ranked = select(claims.c.id, claims.c.provider_id, claims.c.billed_amount, rk) \
                .where(claims.c.date_of_service.between(d0, d1)).subquery("ranked")
            conn.execute(select(ranked).where(ranked.c.rk <= 3).order_by(ranked.c.provider_id, ranked.c.rk)).all()
            conn.execute(select(payments.c.claim_id, payments.c.amount,
                                func.sum(payments.c.amount).over(partition_by=payments.c.claim_id,
                                                                 order_by=payments.c.created_at).label("running"))
                         .where(payments.c.claim_id.in_([cid, cid + 1, cid + 2]))).all()
            # JSONB operators
            conn.execute(select(audit_logs.c.id, audit_logs.c.action, audit_logs.c.details["app"].astext.label("app"))
                         .where(audit_logs.c.details["app"].astext == rnd.choice(APPS),
                                audit_logs.c.occurred_at >= dt.datetime(2026, rnd.randint(1, 12), 1, tzinfo=dt.timezone.utc))
                         .order_by(audit_logs.c.occurred_at.desc()).limit(20)).all()
            conn.execute(select(func.count()).select_from(audit_logs)
                         .where(audit_logs.c.details.contains({"purpose": rnd.choice(["treatment", "payment"])}))).scalar()
            conn.execute(select(audit_logs.c.id).where(audit_logs.c.details.has_key("purpose"),
                                                       audit_logs.c.user_id == rnd.choice(user_ids)).limit(5)).all()
            # counting
            conn.execute(select(func.count()).select_from(appointments)
                         .where(appointments.c.provider_id == prov, appointments.c.status == "Scheduled")).scalar()
            conn.execute(select(func.count(func.distinct(claims.c.patient_id))).where(claims.c.payer_id == rnd.randint(1, 30))).scalar()

        # writes, each in its own transaction
        with engine.begin() as conn:
            code = "ZZ%03d" % i
            stmt = pg_insert(cpt_codes).values(code=code, description="corpus test code %d" % i,
                                               category="Corpus", relative_value=decimal.Decimal("1.25"))
            conn.execute(stmt.on_conflict_do_update(index_elements=[cpt_codes.c.code],
                                                    set_={"description": stmt.excluded.description,
                                                          "relative_value": stmt.excluded.relative_value}))
            conn.execute(pg_insert(icd10_codes).values(code="I10", description="Essential hypertension",
                                                       chapter="Circulatory", is_billable=True)
                         .on_conflict_do_nothing(index_elements=["code"]))
        with engine.begin() as conn:
            when = dt.datetime(2027, 1 + i % 12, 1 + i, 9, 30, tzinfo=dt.timezone.utc)
            appt_id = conn.execute(insert(appointments).values(
                patient_id=pid, provider_id=prov, scheduled_date_time=when, duration=30,
                status="Scheduled", appointment_type="follow_up", reason="Corpus")
                .returning(appointments.c.id)).scalar()
            conn.execute(update(appointments).where(appointments.c.id == appt_id)
                         .values(status="Confirmed").returning(appointments.c.id, appointments.c.status)).first()
            conn.execute(insert(audit_logs).values(user_id=rnd.choice(user_ids), action="Create",
                                                   table_name="appointments", record_id=str(appt_id),
                                                   client_ip="10.1.2.%d" % i, details={"app": "scheduler", "iteration": i}))
            conn.execute(delete(appointments).where(appointments.c.id == appt_id)
                         .returning(appointments.c.id)).all()
        with engine.begin() as conn:
            # SELECT ... FOR UPDATE, then adjudicate
            row = conn.execute(select(claims.c.id, claims.c.status, claims.c.billed_amount)
                               .where(claims.c.id == cid).with_for_update()).first()
            conn.execute(update(claims).where(claims.c.id == cid)
                         .values(status=row.status, updated_at=func.now()))
            ids = [rnd.randint(1, max_claim) for _ in range(2 + i % 4)]
            conn.execute(update(claims).where(claims.c.id.in_(ids), claims.c.status == "pended")
                         .values(pend_reason=func.coalesce(claims.c.pend_reason, "corpus review")))
        try:
            with engine.begin() as conn:
                conn.execute(update(patients).where(patients.c.id == pid)
                             .values(updated_at=func.now()).returning(patients.c.updated_at)).first()
                raise RuntimeError("rollback on purpose")
        except RuntimeError:
            pass


# ---------------------------------------------------------------------------------------
# ORM
# ---------------------------------------------------------------------------------------

Base = declarative_base(metadata=metadata)


class Payer(Base):
    __table__ = payers


class Plan(Base):
    __table__ = plans
    payer = relationship(Payer)


class Provider(Base):
    __table__ = providers


class Patient(Base):
    __table__ = patients
    plan = relationship(Plan)
    primary_provider = relationship(Provider)
    claims = relationship("Claim", back_populates="patient", order_by="Claim.date_of_service")
    appointments = relationship("Appointment", back_populates="patient")


class Claim(Base):
    __table__ = claims
    patient = relationship(Patient, back_populates="claims")
    provider = relationship(Provider)
    payer = relationship(Payer)
    lines = relationship("ClaimLine", back_populates="claim", order_by="ClaimLine.line_number")
    payments = relationship("Payment", back_populates="claim")


class ClaimLine(Base):
    __table__ = claim_lines
    claim = relationship(Claim, back_populates="lines")


class Payment(Base):
    __table__ = payments
    claim = relationship(Claim, back_populates="payments")


class Appointment(Base):
    __table__ = appointments
    patient = relationship(Patient, back_populates="appointments")
    provider = relationship(Provider)


class Availability(Base):
    __table__ = availabilities


class User(Base):
    __table__ = users


class AuditLog(Base):
    __table__ = audit_logs


class CptCode(Base):
    __table__ = cpt_codes


def run_orm(engine):
    with Session(engine) as s:
        mrns = s.scalars(select(Patient.mrn).order_by(Patient.id).limit(50)).all()
        npis = s.scalars(select(Provider.npi).order_by(Provider.id).limit(50)).all()
        emails = s.scalars(select(User.email).filter_by(is_active=True).order_by(User.id).limit(50)).all()
        user_ids = s.scalars(select(User.id).order_by(User.id).limit(100)).all()
        max_claim = s.scalar(select(func.max(Claim.id)))
        max_patient = s.scalar(select(func.max(Patient.id)))
        max_provider = s.scalar(select(func.max(Provider.id)))

    for i in range(ITER):
        pid = rnd.randint(1, max_patient)
        prov = rnd.randint(1, max_provider)
        cid = rnd.randint(1, max_claim)
        d0 = day()
        d1 = d0 + dt.timedelta(days=rnd.randint(30, 365))
        with Session(engine) as s:
            p = s.get(Patient, pid)
            _ = p.plan, p.primary_provider          # lazy loads (many-to-one)
            _ = list(p.claims)                       # lazy load (one-to-many)
            s.execute(select(Patient).filter_by(mrn=rnd.choice(mrns))).scalar_one_or_none()
            s.execute(select(Provider).where(Provider.npi == rnd.choice(npis))).scalar_one_or_none()
            u = s.execute(select(User).where(User.email == rnd.choice(emails))).scalar_one_or_none()
            if u is not None:
                u.last_login_at = dt.datetime.now(dt.timezone.utc)
            s.commit()
            # eager loading
            s.scalars(select(Claim).options(joinedload(Claim.provider), joinedload(Claim.payer))
                      .where(Claim.patient_id == pid).order_by(Claim.date_of_service.desc())).unique().all()
            s.scalars(select(Claim).options(selectinload(Claim.lines), selectinload(Claim.payments))
                      .where(Claim.provider_id == prov, Claim.date_of_service.between(d0, d1)).limit(10)).all()
            s.scalars(select(Appointment).options(joinedload(Appointment.patient))
                      .where(Appointment.provider_id == prov,
                             Appointment.scheduled_date_time >= dt.datetime.combine(d0, dt.time(), dt.timezone.utc),
                             Appointment.status.in_(["Scheduled", "Confirmed"]))
                      .order_by(Appointment.scheduled_date_time)).unique().all()
            # legacy Query API paging and counting
            s.query(Patient).filter(Patient.state == rnd.choice(["CA", "TX", "NY", "FL", "OH"])) \
                .order_by(Patient.last_name, Patient.id).limit(20).offset(20 * i).all()
            s.query(Patient).filter(Patient.last_name.ilike("%" + rnd.choice(NAMES) + "%")).count()
            s.query(Provider.specialty, func.count(Provider.id)).group_by(Provider.specialty) \
                .order_by(func.count(Provider.id).desc()).all()
            s.query(Claim).filter(Claim.status.in_(some(STATUSES, 2 + i % 3))).filter(Claim.payer_id == rnd.randint(1, 30)) \
                .order_by(Claim.received_at.desc()).first()
            s.query(Availability).filter_by(provider_id=prov, day_of_week=rnd.randint(0, 6)) \
                .order_by(Availability.start_time).all()
            s.query(Patient.id).filter(Patient.claims.any(Claim.status == "denied")).limit(10).all()
            s.query(Provider).filter(~Provider.id.in_(select(Appointment.provider_id).where(
                Appointment.scheduled_date_time >= dt.datetime(2026, 1 + i % 12, 1, tzinfo=dt.timezone.utc)))).all()
            s.query(func.count(Claim.id)).join(Claim.patient) \
                .filter(Patient.date_of_birth < dt.date(1960, 1, 1), Claim.date_of_service >= d0).scalar()
            # aggregates through relationships
            paid = func.coalesce(func.sum(Payment.amount), 0)
            s.execute(select(Claim.id, Claim.billed_amount, paid.label("paid"))
                      .outerjoin(Claim.payments).where(Claim.patient_id == pid)
                      .group_by(Claim.id).having(paid < Claim.billed_amount)).all()
            # window function via ORM entity + column
            rn = func.row_number().over(partition_by=Appointment.patient_id,
                                        order_by=Appointment.scheduled_date_time.desc()).label("rn")
            sub = select(Appointment.id, Appointment.patient_id, rn).where(Appointment.provider_id == prov).subquery()
            s.execute(select(Appointment).join(sub, sub.c.id == Appointment.id).where(sub.c.rn == 1)).scalars().all()
            # CTE with aliased entity
            top = select(ClaimLine.claim_id, func.sum(ClaimLine.units).label("units")) \
                .where(ClaimLine.service_date.between(d0, d1)).group_by(ClaimLine.claim_id).cte("top")
            s.execute(select(Claim, top.c.units).join(top, top.c.claim_id == Claim.id)
                      .order_by(top.c.units.desc()).limit(5)).all()
            a = aliased(Provider)
            s.execute(select(Patient.mrn, a.npi).join(a, Patient.primary_provider)
                      .where(a.state == Patient.state, Patient.id.between(pid, pid + 100))).all()
            # JSONB
            s.scalars(select(AuditLog).where(AuditLog.details["purpose"].astext == "treatment",
                                             AuditLog.table_name == "patients",
                                             AuditLog.record_id == str(pid))).all()

        # unit of work: insert, update, delete
        with Session(engine) as s, s.begin():
            appt = Appointment(patient_id=pid, provider_id=prov,
                               scheduled_date_time=dt.datetime(2027, 2, 1 + i, 10, tzinfo=dt.timezone.utc),
                               duration=15, status="Scheduled", appointment_type="telehealth", reason="Corpus ORM")
            s.add(appt)
            s.flush()
            s.add(AuditLog(user_id=rnd.choice(user_ids), action="Create", table_name="appointments",
                           record_id=str(appt.id), client_ip="10.9.8.%d" % i,
                           details={"app": "portal", "fields": ["status", "reason"]}))
            appt.status = "Confirmed"
            s.flush()
            s.delete(appt)
        with Session(engine) as s, s.begin():
            c = s.get(Claim, cid, with_for_update=True)
            c.updated_at = func.now()
            s.add(CptCode(code="ZY%03d" % i, description="orm corpus code", category="Corpus",
                          relative_value=decimal.Decimal("2.50")))
        with Session(engine) as s, s.begin():
            s.execute(update(Claim).where(Claim.id == cid).values(status=Claim.status)
                      .execution_options(synchronize_session="fetch"))
            s.execute(delete(CptCode).where(CptCode.code == "ZY%03d" % i)
                      .execution_options(synchronize_session=False))
            s.query(Appointment).filter(Appointment.reason == "Corpus ORM", Appointment.status == "Canceled") \
                .delete(synchronize_session=False)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "core"
    engine = create_engine("postgresql+psycopg2://", future=True)
    {"core": run_core, "orm": run_orm}[mode](engine)
    engine.dispose()
    print("sqlalchemy-%s: done" % mode)


if __name__ == "__main__":
    main()
