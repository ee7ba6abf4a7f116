"""Unmanaged Django models over pgmedic's demo tables (no migrations)."""
from django.db import models


class Base(models.Model):
    class Meta:
        abstract = True
        managed = False
        app_label = "corpusapp"


class Payer(Base):
    payer_code = models.TextField()
    name = models.TextField()
    payer_type = models.TextField()
    state = models.CharField(max_length=2, null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Base.Meta):
        db_table = "payers"


class Plan(Base):
    payer = models.ForeignKey(Payer, models.DO_NOTHING)
    name = models.TextField()
    plan_type = models.TextField()
    group_number = models.TextField(null=True)
    is_active = models.BooleanField(default=True)

    class Meta(Base.Meta):
        db_table = "plans"


class Provider(Base):
    npi = models.TextField()
    first_name = models.TextField(null=True)
    last_name = models.TextField(null=True)
    organization_name = models.TextField(null=True)
    specialty = models.TextField()
    taxonomy_code = models.TextField()
    network = models.TextField()
    state = models.CharField(max_length=2)
    is_active = models.BooleanField(default=True)
    accepting_new_patients = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Base.Meta):
        db_table = "providers"


class Patient(Base):
    id = models.BigAutoField(primary_key=True)
    mrn = models.TextField()
    first_name = models.TextField()
    last_name = models.TextField()
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1)
    ssn = models.TextField(null=True)
    address_line1 = models.TextField(null=True)
    city = models.TextField(null=True)
    state = models.CharField(max_length=2, null=True)
    postal_code = models.TextField(null=True)
    phone = models.TextField(null=True)
    email = models.TextField(null=True)
    insurance_member_id = models.TextField(null=True)
    plan = models.ForeignKey(Plan, models.DO_NOTHING, null=True)
    primary_provider = models.ForeignKey(Provider, models.DO_NOTHING, null=True, related_name="panel")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(Base.Meta):
        db_table = "patients"


class Icd10Code(Base):
    code = models.TextField(primary_key=True)
    description = models.TextField()
    chapter = models.TextField()
    is_billable = models.BooleanField(default=True)

    class Meta(Base.Meta):
        db_table = "icd10_codes"


class CptCode(Base):
    code = models.TextField(primary_key=True)
    description = models.TextField()
    category = models.TextField()
    relative_value = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta(Base.Meta):
        db_table = "cpt_codes"


class Claim(Base):
    id = models.BigAutoField(primary_key=True)
    claim_number = models.TextField()
    patient = models.ForeignKey(Patient, models.DO_NOTHING, related_name="claims")
    provider = models.ForeignKey(Provider, models.DO_NOTHING, related_name="claims")
    payer = models.ForeignKey(Payer, models.DO_NOTHING)
    plan = models.ForeignKey(Plan, models.DO_NOTHING, null=True)
    claim_type = models.TextField()
    date_of_service = models.DateField()
    received_at = models.DateTimeField()
    status = models.TextField()
    pend_reason = models.TextField(null=True)
    primary_diagnosis = models.ForeignKey(Icd10Code, models.DO_NOTHING, null=True, db_column="primary_diagnosis")
    billed_amount = models.DecimalField(max_digits=12, decimal_places=2)
    allowed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    patient_responsibility = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    adjudicated_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(Base.Meta):
        db_table = "claims"


class ClaimLine(Base):
    # Django 3.2 has no composite keys: claim_id stands in as the key; only read.
    claim = models.ForeignKey(Claim, models.DO_NOTHING, primary_key=True, related_name="lines")
    line_number = models.SmallIntegerField()
    cpt_code = models.ForeignKey(CptCode, models.DO_NOTHING, null=True, db_column="cpt_code")
    hcpcs_code = models.TextField(null=True)
    icd10_code = models.TextField()
    modifier = models.TextField(null=True)
    units = models.IntegerField()
    billed_amount = models.DecimalField(max_digits=12, decimal_places=2)
    allowed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    service_date = models.DateField()

    class Meta(Base.Meta):
        db_table = "claim_lines"


class Appointment(Base):
    id = models.BigAutoField(primary_key=True)
    patient = models.ForeignKey(Patient, models.DO_NOTHING, related_name="appointments")
    provider = models.ForeignKey(Provider, models.DO_NOTHING, related_name="appointments")
    scheduled_date_time = models.DateTimeField()
    duration = models.IntegerField()
    status = models.TextField()
    appointment_type = models.TextField()
    reason = models.TextField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Base.Meta):
        db_table = "appointments"


class Availability(Base):
    provider = models.ForeignKey(Provider, models.DO_NOTHING)
    day_of_week = models.SmallIntegerField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    location = models.TextField(null=True)

    class Meta(Base.Meta):
        db_table = "availabilities"


class Payment(Base):
    id = models.BigAutoField(primary_key=True)
    claim = models.ForeignKey(Claim, models.DO_NOTHING, related_name="payments")
    payer = models.ForeignKey(Payer, models.DO_NOTHING)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.TextField()
    status = models.TextField()
    trace_number = models.TextField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    posted_at = models.DateTimeField(null=True)

    class Meta(Base.Meta):
        db_table = "payments"


class User(Base):
    id = models.BigAutoField(primary_key=True)
    email = models.TextField()
    password_hash = models.TextField()
    is_active = models.BooleanField(default=True)
    user_type = models.TextField()
    patient = models.ForeignKey(Patient, models.DO_NOTHING, null=True)
    provider = models.ForeignKey(Provider, models.DO_NOTHING, null=True)
    last_login_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(Base.Meta):
        db_table = "users"


class AuditLog(Base):
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, models.DO_NOTHING, null=True)
    action = models.TextField()
    table_name = models.TextField()
    record_id = models.TextField()
    client_ip = models.GenericIPAddressField(null=True)
    occurred_at = models.DateTimeField(auto_now_add=True)
    details = models.JSONField(null=True)

    class Meta(Base.Meta):
        db_table = "audit_logs"
