# frozen_string_literal: true

# pgmedic statement corpus client: Ruby ActiveRecord 6.1 over the pg gem.
#
# Debian packages ruby-activerecord and ruby-pg. Prepared statements are on (ActiveRecord's
# default for PostgreSQL): statements with bind parameters go through PQprepare/PQexecPrepared
# as named statements a1, a2, ...; statements without binds (and those with values ActiveRecord
# inlines, such as IN lists) are sent with PQexec or PQexecParams.
#
# Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
# CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.

require 'active_record'
require 'date'

ActiveRecord::Base.establish_connection(
  adapter: 'postgresql',
  host: ENV['PGHOST'],
  port: ENV['PGPORT'],
  username: ENV['PGUSER'],
  database: ENV.fetch('PGDATABASE', 'demo'),
  prepared_statements: true
)
ActiveRecord::Base.default_timezone = :utc

ITER = Integer(ENV.fetch('CORPUS_ITERATIONS', '8'))
RND = Random.new(3)
STATUSES = %w[received pended adjudicated paid denied appealed void].freeze
NAMES = %w[smi john mar lee gar wil br and].freeze

class Payer < ActiveRecord::Base
  has_many :plans
end

class Plan < ActiveRecord::Base
  belongs_to :payer
end

class Provider < ActiveRecord::Base
  has_many :claims
  has_many :appointments
  has_many :availabilities
  scope :active, -> { where(is_active: true) }
end

class Patient < ActiveRecord::Base
  belongs_to :plan, optional: true
  belongs_to :primary_provider, class_name: 'Provider', optional: true
  has_many :claims
  has_many :appointments
  scope :born_before, ->(d) { where('date_of_birth < ?', d) }
end

class Claim < ActiveRecord::Base
  belongs_to :patient
  belongs_to :provider
  belongs_to :payer
  has_many :claim_lines
  has_many :payments
end

class ClaimLine < ActiveRecord::Base
  self.primary_key = 'claim_id' # composite key (claim_id, line_number); only read here
  belongs_to :claim
end

class Appointment < ActiveRecord::Base
  belongs_to :patient
  belongs_to :provider
end

class Availability < ActiveRecord::Base
  belongs_to :provider
end

class Payment < ActiveRecord::Base
  belongs_to :claim
end

class User < ActiveRecord::Base
  belongs_to :patient, optional: true
end

class AuditLog < ActiveRecord::Base
  belongs_to :user, optional: true
end

class CptCode < ActiveRecord::Base
  self.primary_key = 'code'
end

def day
  Date.new(RND.rand(2020..2026), RND.rand(1..12), RND.rand(1..28))
end

mrns = Patient.order(:id).limit(50).pluck(:mrn)
npis = Provider.order(:id).limit(50).pluck(:npi)
emails = User.where(is_active: true).order(:id).limit(50).pluck(:email)
user_ids = User.order(:id).limit(100).pluck(:id)
max_patient = Patient.maximum(:id)
max_claim = Claim.maximum(:id)
max_provider = Provider.maximum(:id)

ITER.times do |i|
  pid = RND.rand(1..max_patient)
  prov = RND.rand(1..max_provider)
  cid = RND.rand(1..max_claim)
  d0 = day
  d1 = d0 + RND.rand(30..365)

  # lookups by id and natural keys
  p = Patient.find(pid)
  p.primary_provider
  p.plan&.payer
  Patient.find_by(mrn: mrns.sample(random: RND))
  Provider.find_by!(npi: npis.sample(random: RND))
  u = User.where('lower(email) = ?', emails.sample(random: RND).downcase).where(is_active: true).first
  u&.update_columns(last_login_at: Time.now.utc)
  User.find_by(email: emails.sample(random: RND))&.touch(:last_login_at)

  # paged lists, IN lists, date ranges, ILIKE
  Patient.order(:last_name, :first_name, :id).limit(25).offset(25 * i).to_a
  Claim.where(status: STATUSES.sample(1 + i % 3, random: RND), date_of_service: d0..d1)
       .order(date_of_service: :desc).select(:id, :claim_number, :status, :billed_amount).limit(50).to_a
  term = NAMES.sample(random: RND)
  Patient.where('last_name ILIKE ? OR first_name ILIKE ?', "#{term}%", "%#{term}%").order(:last_name).limit(20).to_a
  Patient.where(Patient.arel_table[:last_name].matches("#{term}%")).count
  Appointment.where(provider_id: prov, status: %w[Scheduled Confirmed])
             .where(scheduled_date_time: d0.to_time..d1.to_time)
             .includes(:patient).order(:scheduled_date_time).to_a
  Availability.where(provider_id: prov, day_of_week: RND.rand(0..6)).order(:start_time).to_a
  Claim.where(id: Array.new(3 + i % 5) { RND.rand(1..max_claim) }).to_a
  Provider.active.where.not(state: 'CA').where(accepting_new_patients: true).pluck(:id, :npi)

  # joins and eager loading
  Claim.where(patient_id: pid).includes(:provider, :payer).order(date_of_service: :desc).to_a
  Claim.where(provider_id: prov).where('date_of_service >= ?', d0).preload(:claim_lines, :payments).limit(5).to_a
  Claim.joins(:patient, :provider).where(providers: { npi: npis.sample(random: RND) })
       .where(patients: { state: %w[CA TX NY FL].sample(random: RND) }).limit(20).to_a
  Patient.joins(:claims).merge(Claim.where(status: 'denied')).distinct.limit(20).pluck(:id)
  Claim.eager_load(:provider).where(status: 'pended').order(:received_at).limit(10).to_a
  Patient.left_outer_joins(:appointments).where(appointments: { id: nil }).limit(10).pluck(:id)

  # aggregates, GROUP BY, COALESCE, CASE
  Claim.where(provider_id: prov).group(:status).order(:status).count
  Claim.where(provider_id: prov).group(:status).sum(:billed_amount)
  Claim.where(date_of_service: d0...d1).joins(:payer)
       .group('payers.name', Arel.sql("date_trunc('month', claims.date_of_service)"))
       .having('count(*) > ?', 2)
       .pluck('payers.name', Arel.sql("date_trunc('month', claims.date_of_service)"),
              Arel.sql('sum(claims.billed_amount)'), Arel.sql('coalesce(sum(claims.paid_amount), 0)'))
  Claim.where(payer_id: RND.rand(1..30)).average(:paid_amount)
  Claim.where(payer_id: RND.rand(1..30)).distinct.count(:patient_id)
  Patient.group(Arel.sql("CASE WHEN date_of_birth > now() - interval '18 years' THEN 'pediatric' " \
                         "WHEN date_of_birth > now() - interval '65 years' THEN 'adult' ELSE 'senior' END")).count
  Claim.where(patient_id: pid)
       .select(:id, Arel.sql("CASE WHEN paid_amount IS NULL THEN 'unpaid' WHEN paid_amount < billed_amount * 0.5 " \
                             "THEN 'short' ELSE 'ok' END AS payment_state")).to_a
  Provider.joins(:claims).group('providers.id').having('count(claims.id) > ?', 100 + i)
          .order(Arel.sql('count(claims.id) DESC')).limit(10).pluck(:id, Arel.sql('count(claims.id)'))

  # EXISTS, subqueries, counting
  Patient.where(Claim.where('claims.patient_id = patients.id').where(status: 'denied')
                     .where('date_of_service > ?', d0).arel.exists).order(:id).limit(20).pluck(:id, :mrn)
  Provider.active.where.not(id: Appointment.where('scheduled_date_time >= ?', d0).select(:provider_id)).to_a
  Claim.where(patient_id: pid, status: 'appealed').exists?
  Patient.where(state: %w[CA TX NY FL].sample(random: RND)).count
  Appointment.where(provider_id: prov, status: 'Scheduled').count

  # window functions and CTE (Arel / from)
  ranked = Claim.where(date_of_service: d0..d1)
                .select(:id, :provider_id, :billed_amount,
                        Arel.sql('rank() OVER (PARTITION BY provider_id ORDER BY billed_amount DESC) AS rk'))
  Claim.from(ranked, :claims).where('rk <= ?', 3).order(:provider_id, :rk).to_a
  recent = Arel::Table.new(:recent)
  cte = Arel::Nodes::As.new(recent, Claim.where('date_of_service >= ?', d0).group(:patient_id)
                                         .select(:patient_id, Arel.sql('count(*) AS n')).arel)
  Patient.joins('JOIN recent ON recent.patient_id = patients.id')
         .arel.with(cte).then { |a| Patient.find_by_sql(a.project(Arel.sql('patients.mrn, recent.n')).take(10)) }

  # JSONB
  AuditLog.where("details->>'app' = ?", %w[ehr-web scheduler billing].sample(random: RND))
          .where('occurred_at >= ?', Date.new(2026, 1 + i % 12, 1)).order(occurred_at: :desc).limit(20).to_a
  AuditLog.where('details @> ?', { purpose: %w[treatment payment].sample(random: RND) }.to_json).count
  AuditLog.where('details ? :key', key: 'purpose').where(user_id: user_ids.sample(random: RND)).limit(5).pluck(:id)

  # writes
  ActiveRecord::Base.transaction do
    appt = Appointment.create!(patient_id: pid, provider_id: prov,
                               scheduled_date_time: Time.utc(2027, 4, 1 + i, 14), duration: 30,
                               status: 'Scheduled', appointment_type: 'follow_up', reason: 'Corpus AR')
    AuditLog.create!(user_id: user_ids.sample(random: RND), action: 'Create', table_name: 'appointments',
                     record_id: appt.id.to_s, client_ip: "10.5.6.#{i}", details: { app: 'scheduler', iteration: i })
    appt.update!(status: 'Confirmed')
    appt.destroy!
  end
  Claim.transaction do
    c = Claim.lock.find(cid)
    c.update!(pend_reason: c.pend_reason)
    Claim.where(id: Array.new(2 + i % 4) { RND.rand(1..max_claim) }, status: 'pended')
         .update_all(["pend_reason = coalesce(pend_reason, ?), updated_at = now()", 'corpus review'])
  end
  CptCode.upsert_all([{ code: format('ZR%03d', i), description: "ar corpus #{i}", category: 'Corpus', relative_value: 1.5 }],
                     unique_by: :code)
  CptCode.insert_all([{ code: '99213', description: 'Office visit', category: 'E/M', relative_value: 1.3 }])
  CptCode.where(code: format('ZR%03d', i)).delete_all
  ActiveRecord::Base.transaction do
    Patient.where(id: pid).update_all(updated_at: Time.now.utc)
    ActiveRecord::Base.transaction(requires_new: true) do
      Patient.find(pid).update!(city: p.city)
    end
    raise ActiveRecord::Rollback
  end
end

puts 'activerecord: done'
