#!/usr/bin/python3
"""pgmedic statement corpus client: the Django 3.2 ORM over psycopg2, standalone.

Run with Debian's interpreter (/usr/bin/python3, packages python3-django and
python3-psycopg2). Models are unmanaged (managed=False) and mapped onto the demo tables;
nothing is migrated. psycopg2 interpolates parameters on the client (simple query protocol).

Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.
"""
import datetime as dt
import decimal
import os
import random

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    USE_TZ=True,
    TIME_ZONE="UTC",
    INSTALLED_APPS=["corpusapp"],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "demo"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
        }
    },
)
django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import (  # noqa: E402
    Avg, Case, CharField, Count, DecimalField, Exists, F, Max, OuterRef, Q, Subquery, Sum, Value,
    When, Window,
)
from django.db.models.functions import Coalesce, Now, RowNumber, Rank, TruncMonth  # noqa: E402

from corpusapp.models import (  # noqa: E402
    Appointment, Availability, AuditLog, Claim, CptCode, Patient, Payment, Provider, User,
)

ITER = int(os.environ.get("CORPUS_ITERATIONS", "8"))
rnd = random.Random(2)


STATUSES = ["received", "pended", "adjudicated", "paid", "denied", "appealed", "void"]
NAMES = ["smi", "john", "mar", "lee", "gar", "wil", "br", "and"]


def day():
    return dt.date(rnd.randint(2020, 2026), rnd.randint(1, 12), rnd.randint(1, 28))


def at(d):
    return dt.datetime.combine(d, dt.time(), dt.timezone.utc)


def main():
    mrns = list(Patient.objects.order_by("id").values_list("mrn", flat=True)[:50])
    npis = list(Provider.objects.order_by("id").values_list("npi", flat=True)[:50])
    emails = list(User.objects.filter(is_active=True).order_by("id").values_list("email", flat=True)[:50])
    user_ids = list(User.objects.order_by("id").values_list("id", flat=True)[:100])
    max_patient = Patient.objects.aggregate(m=Max("id"))["m"]
    max_claim = Claim.objects.aggregate(m=Max("id"))["m"]
    max_provider = Provider.objects.aggregate(m=Max("id"))["m"]

    for i in range(ITER):
        pid = rnd.randint(1, max_patient)
        prov = rnd.randint(1, max_provider)
        cid = rnd.randint(1, max_claim)
        d0 = day()
        d1 = d0 + dt.timedelta(days=rnd.randint(30, 365))

        # lookups by id and natural keys
        p = Patient.objects.get(pk=pid)
        _ = p.primary_provider  # lazy foreign key load
        Patient.objects.filter(mrn=rnd.choice(mrns)).first()
        Provider.objects.get(npi=rnd.choice(npis))
        u = User.objects.filter(email__iexact=rnd.choice(emails), is_active=True).first()
        if u is not None:
            User.objects.filter(pk=u.pk).update(last_login_at=Now())
        Patient.objects.select_related("plan__payer", "primary_provider").get(mrn=rnd.choice(mrns))

        # paged lists, IN, date ranges, ILIKE
        list(Patient.objects.order_by("last_name", "first_name", "id")[25 * i:25 * i + 25])
        list(Claim.objects.filter(status__in=rnd.sample(STATUSES, 1 + i % 3),
                                  date_of_service__range=(d0, d1))
             .order_by("-date_of_service").only("id", "claim_number", "status", "billed_amount")[:50])
        term = rnd.choice(NAMES)
        list(Patient.objects.filter(Q(last_name__istartswith=term) | Q(first_name__icontains=term))
             .order_by("last_name")[:20])
        list(Provider.objects.filter(specialty__icontains="cardio", is_active=True).exclude(state="CA"))
        list(Appointment.objects.filter(provider_id=prov,
                                        scheduled_date_time__gte=at(d0),
                                        scheduled_date_time__lt=at(d1),
                                        status__in=["Scheduled", "Confirmed"])
             .select_related("patient").order_by("scheduled_date_time"))
        list(Availability.objects.filter(provider_id=prov, day_of_week=rnd.randint(0, 6)).order_by("start_time"))
        list(Appointment.objects.filter(scheduled_date_time__date=d0, provider__state="TX"))
        list(Claim.objects.filter(date_of_service__year=d0.year, date_of_service__month=d0.month,
                                  paid_amount__isnull=True).values_list("id", flat=True)[:20])

        # joins, prefetch
        list(Claim.objects.filter(patient_id=pid).select_related("provider", "payer").order_by("-date_of_service"))
        for c in Claim.objects.filter(provider_id=prov, date_of_service__gte=d0).prefetch_related("lines", "payments")[:5]:
            list(c.lines.all())
        list(Patient.objects.filter(claims__provider__npi=rnd.choice(npis)).distinct()[:20])

        # aggregates, GROUP BY, COALESCE, CASE
        list(Claim.objects.filter(provider_id=prov).values("status")
             .annotate(n=Count("id"), billed=Sum("billed_amount"),
                       paid=Coalesce(Sum("paid_amount"), Value(decimal.Decimal("0")), output_field=DecimalField()))
             .order_by("status"))
        list(Claim.objects.filter(date_of_service__gte=d0, date_of_service__lt=d1)
             .annotate(month=TruncMonth("date_of_service"))
             .values("payer__name", "month")
             .annotate(billed=Sum("billed_amount"), avg_paid=Avg("paid_amount"), n=Count("id"))
             .filter(n__gt=2).order_by("month", "payer__name"))
        list(Patient.objects.annotate(bucket=Case(
            When(date_of_birth__gt=dt.date(2008, 1, 1), then=Value("pediatric")),
            When(date_of_birth__gt=dt.date(1961, 1, 1), then=Value("adult")),
            default=Value("senior"), output_field=CharField()))
            .values("bucket").annotate(n=Count("id")).order_by("bucket"))
        list(Claim.objects.filter(patient_id=pid).annotate(
            payment_state=Case(When(paid_amount__isnull=True, then=Value("unpaid")),
                               When(paid_amount__lt=F("billed_amount") * decimal.Decimal("0.5"), then=Value("short")),
                               default=Value("ok"), output_field=CharField())).values("id", "payment_state"))
        Claim.objects.filter(payer_id=rnd.randint(1, 30)).aggregate(total=Sum("billed_amount"), patients=Count("patient", distinct=True))
        list(Provider.objects.annotate(n_claims=Count("claims")).filter(n_claims__gt=100 + i).order_by("-n_claims")[:10])

        # EXISTS, subqueries
        denied = Claim.objects.filter(patient=OuterRef("pk"), status="denied", date_of_service__gt=d0)
        list(Patient.objects.filter(Exists(denied)).order_by("id").values("id", "mrn")[:20])
        list(Provider.objects.filter(is_active=True).exclude(
            Exists(Appointment.objects.filter(provider=OuterRef("pk"), scheduled_date_time__gte=at(d0)))))
        last_claim = Claim.objects.filter(patient=OuterRef("pk")).order_by("-date_of_service")
        list(Patient.objects.filter(state="NY").annotate(last_dos=Subquery(last_claim.values("date_of_service")[:1]))
             .values("id", "last_dos")[:20])
        Claim.objects.filter(patient_id=pid, status="appealed").exists()
        Patient.objects.filter(state=rnd.choice(["CA", "TX", "NY", "FL"])).count()

        # window functions
        list(Claim.objects.filter(date_of_service__range=(d0, d1)).annotate(
            rk=Window(expression=Rank(), partition_by=[F("provider_id")], order_by=F("billed_amount").desc()))
            .values("id", "provider_id", "billed_amount", "rk")[:50])
        list(Payment.objects.filter(claim_id__in=[cid, cid + 1, cid + 2]).annotate(
            running=Window(expression=Sum("amount"), partition_by=[F("claim_id")], order_by=F("created_at").asc()),
            rn=Window(expression=RowNumber(), order_by=F("id").asc())))

        # JSONB
        list(AuditLog.objects.filter(details__app=rnd.choice(["ehr-web", "scheduler", "billing"]),
                                     occurred_at__gte=at(dt.date(2026, 1 + i % 12, 1))).order_by("-occurred_at")[:20])
        AuditLog.objects.filter(details__contains={"purpose": rnd.choice(["treatment", "payment"])}).count()
        list(AuditLog.objects.filter(details__has_key="purpose", user_id=rnd.choice(user_ids)).values_list("id", flat=True)[:5])

        # writes
        with transaction.atomic():
            appt = Appointment.objects.create(patient_id=pid, provider_id=prov,
                                              scheduled_date_time=dt.datetime(2027, 3, 1 + i, 11, tzinfo=dt.timezone.utc),
                                              duration=20, status="Scheduled", appointment_type="follow_up",
                                              reason="Corpus Django")
            AuditLog.objects.create(user_id=rnd.choice(user_ids), action="Create", table_name="appointments",
                                    record_id=str(appt.pk), client_ip="10.3.4.%d" % i,
                                    details={"app": "scheduler", "iteration": i})
            appt.status = "Confirmed"
            appt.save(update_fields=["status"])
            appt.delete()
        with transaction.atomic():
            c = Claim.objects.select_for_update().get(pk=cid)
            c.save()
            Claim.objects.filter(pk__in=[rnd.randint(1, max_claim) for _ in range(2 + i % 4)], status="pended") \
                .update(pend_reason=Coalesce(F("pend_reason"), Value("corpus review")), updated_at=Now())
        CptCode.objects.bulk_create([CptCode(code="ZD%03d" % i, description="django corpus", category="Corpus",
                                             relative_value=decimal.Decimal("1.10")),
                                     CptCode(code="99213", description="Office visit", category="E/M",
                                             relative_value=decimal.Decimal("1.30"))],
                                    ignore_conflicts=True)
        CptCode.objects.update_or_create(code="ZD%03d" % i, defaults={"description": "django corpus %d" % i})
        CptCode.objects.get_or_create(code="ZE%03d" % i, defaults={"description": "x", "category": "Corpus",
                                                                    "relative_value": decimal.Decimal("0.5")})
        CptCode.objects.filter(code__in=["ZD%03d" % i, "ZE%03d" % i]).delete()
        try:
            with transaction.atomic():
                Patient.objects.filter(pk=pid).update(updated_at=Now())
                with transaction.atomic():  # savepoint
                    Patient.objects.filter(pk=pid).update(city=F("city"))
                raise RuntimeError("rollback on purpose")
        except RuntimeError:
            pass
    print("django: done")


if __name__ == "__main__":
    main()
