'use strict';
// pgmedic statement corpus client: Sequelize 6 over node-postgres (pg).
//
// Sequelize escapes most values into the SQL text itself and sends it without parameters
// (node-postgres then uses the simple query protocol); INSERT and UPDATE from model
// instances use bind parameters ($1, ...), which node-postgres sends with the extended
// protocol (unnamed statement).
//
// Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
// CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.

const { Sequelize, DataTypes, Op, QueryTypes } = require('sequelize');

const ITER = parseInt(process.env.CORPUS_ITERATIONS || '8', 10);
let seed = 4;
function rand() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
function randint(lo, hi) { return lo + Math.floor(rand() * (hi - lo + 1)); }
function choice(a) { return a[randint(0, a.length - 1)]; }
function sample(a, k) { const c = a.slice(); const out = []; while (out.length < k) out.push(c.splice(randint(0, c.length - 1), 1)[0]); return out; }
function day() { return new Date(Date.UTC(randint(2020, 2026), randint(0, 11), randint(1, 28))); }
function ymd(d) { return d.toISOString().slice(0, 10); }
const STATUSES = ['received', 'pended', 'adjudicated', 'paid', 'denied', 'appealed', 'void'];
const NAMES = ['smi', 'john', 'mar', 'lee', 'gar', 'wil', 'br', 'and'];

const sequelize = new Sequelize(process.env.PGDATABASE || 'demo', process.env.PGUSER || 'postgres', process.env.PGPASSWORD || null, {
  dialect: 'postgres',
  host: process.env.PGHOST || 'localhost',
  port: parseInt(process.env.PGPORT || '5432', 10),
  logging: false,
  define: { timestamps: false, underscored: true, freezeTableName: true },
});

const opts = (table) => ({ tableName: table });
const Payer = sequelize.define('Payer', {
  id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
  payerCode: DataTypes.TEXT, name: DataTypes.TEXT, payerType: DataTypes.TEXT, state: DataTypes.CHAR(2),
}, opts('payers'));
const Provider = sequelize.define('Provider', {
  id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
  npi: DataTypes.TEXT, firstName: DataTypes.TEXT, lastName: DataTypes.TEXT, organizationName: DataTypes.TEXT,
  specialty: DataTypes.TEXT, taxonomyCode: DataTypes.TEXT, network: DataTypes.TEXT, state: DataTypes.CHAR(2),
  isActive: DataTypes.BOOLEAN, acceptingNewPatients: DataTypes.BOOLEAN,
}, opts('providers'));
const Patient = sequelize.define('Patient', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  mrn: DataTypes.TEXT, firstName: DataTypes.TEXT, lastName: DataTypes.TEXT, dateOfBirth: DataTypes.DATEONLY,
  sex: DataTypes.CHAR(1), ssn: DataTypes.TEXT, city: DataTypes.TEXT, state: DataTypes.CHAR(2),
  email: DataTypes.TEXT, planId: DataTypes.INTEGER, primaryProviderId: DataTypes.INTEGER,
  updatedAt: DataTypes.DATE,
}, opts('patients'));
const Claim = sequelize.define('Claim', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  claimNumber: DataTypes.TEXT, patientId: DataTypes.BIGINT, providerId: DataTypes.INTEGER, payerId: DataTypes.INTEGER,
  claimType: DataTypes.TEXT, dateOfService: DataTypes.DATEONLY, receivedAt: DataTypes.DATE, status: DataTypes.TEXT,
  pendReason: DataTypes.TEXT, billedAmount: DataTypes.DECIMAL(12, 2), paidAmount: DataTypes.DECIMAL(12, 2),
  allowedAmount: DataTypes.DECIMAL(12, 2), updatedAt: DataTypes.DATE,
}, opts('claims'));
const ClaimLine = sequelize.define('ClaimLine', {
  claimId: { type: DataTypes.BIGINT, primaryKey: true }, lineNumber: { type: DataTypes.SMALLINT, primaryKey: true },
  cptCode: DataTypes.TEXT, icd10Code: DataTypes.TEXT, units: DataTypes.INTEGER, billedAmount: DataTypes.DECIMAL(12, 2),
  serviceDate: DataTypes.DATEONLY,
}, opts('claim_lines'));
const Appointment = sequelize.define('Appointment', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  patientId: DataTypes.BIGINT, providerId: DataTypes.INTEGER, scheduledDateTime: DataTypes.DATE,
  duration: DataTypes.INTEGER, status: DataTypes.TEXT, appointmentType: DataTypes.TEXT, reason: DataTypes.TEXT,
}, opts('appointments'));
const Payment = sequelize.define('Payment', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  claimId: DataTypes.BIGINT, payerId: DataTypes.INTEGER, amount: DataTypes.DECIMAL(12, 2), method: DataTypes.TEXT,
  status: DataTypes.TEXT, createdAt: DataTypes.DATE,
}, opts('payments'));
const User = sequelize.define('User', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  email: DataTypes.TEXT, passwordHash: DataTypes.TEXT, isActive: DataTypes.BOOLEAN, userType: DataTypes.TEXT,
  lastLoginAt: DataTypes.DATE,
}, opts('users'));
const AuditLog = sequelize.define('AuditLog', {
  id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
  userId: DataTypes.BIGINT, action: DataTypes.TEXT, tableName: DataTypes.TEXT, recordId: DataTypes.TEXT,
  clientIp: DataTypes.INET, occurredAt: DataTypes.DATE, details: DataTypes.JSONB,
}, opts('audit_logs'));
const CptCode = sequelize.define('CptCode', {
  code: { type: DataTypes.TEXT, primaryKey: true }, description: DataTypes.TEXT, category: DataTypes.TEXT,
  relativeValue: DataTypes.DECIMAL(6, 2),
}, opts('cpt_codes'));

Patient.hasMany(Claim, { foreignKey: 'patientId', as: 'claims' });
Claim.belongsTo(Patient, { foreignKey: 'patientId', as: 'patient' });
Claim.belongsTo(Provider, { foreignKey: 'providerId', as: 'provider' });
Claim.belongsTo(Payer, { foreignKey: 'payerId', as: 'payer' });
Claim.hasMany(ClaimLine, { foreignKey: 'claimId', as: 'lines' });
Claim.hasMany(Payment, { foreignKey: 'claimId', as: 'payments' });
Patient.belongsTo(Provider, { foreignKey: 'primaryProviderId', as: 'primaryProvider' });
Appointment.belongsTo(Patient, { foreignKey: 'patientId', as: 'patient' });
Provider.hasMany(Appointment, { foreignKey: 'providerId', as: 'appointments' });
Provider.hasMany(Claim, { foreignKey: 'providerId', as: 'claims' });

async function main() {
  const col = sequelize.col, fn = sequelize.fn, lit = sequelize.literal;
  const mrns = (await Patient.findAll({ attributes: ['mrn'], order: [['id', 'ASC']], limit: 50, raw: true })).map((r) => r.mrn);
  const npis = (await Provider.findAll({ attributes: ['npi'], order: [['id', 'ASC']], limit: 50, raw: true })).map((r) => r.npi);
  const emails = (await User.findAll({ attributes: ['email'], where: { isActive: true }, order: [['id', 'ASC']], limit: 50, raw: true })).map((r) => r.email);
  const userIds = (await User.findAll({ attributes: ['id'], order: [['id', 'ASC']], limit: 100, raw: true })).map((r) => Number(r.id));
  const maxPatient = Number(await Patient.max('id'));
  const maxClaim = Number(await Claim.max('id'));
  const maxProvider = Number(await Provider.max('id'));

  for (let i = 0; i < ITER; i++) {
    const pid = randint(1, maxPatient), prov = randint(1, maxProvider), cid = randint(1, maxClaim);
    const d0 = day(), d1 = new Date(d0.getTime() + randint(30, 365) * 86400000);

    // lookups by id and natural keys
    await Patient.findByPk(pid, { include: [{ model: Provider, as: 'primaryProvider' }] });
    await Patient.findOne({ where: { mrn: choice(mrns) } });
    await Provider.findOne({ where: { npi: choice(npis) } });
    const u = await User.findOne({ where: { [Op.and]: [sequelize.where(fn('lower', col('email')), choice(emails).toLowerCase()), { isActive: true }] } });
    if (u) { u.lastLoginAt = new Date(); await u.save(); }

    // paged lists, IN, date ranges, ILIKE
    await Patient.findAll({ order: [['lastName', 'ASC'], ['firstName', 'ASC'], ['id', 'ASC']], limit: 25, offset: 25 * i });
    await Claim.findAll({
      attributes: ['id', 'claimNumber', 'status', 'billedAmount'],
      where: { status: { [Op.in]: sample(STATUSES, 1 + (i % 3)) }, dateOfService: { [Op.between]: [ymd(d0), ymd(d1)] } },
      order: [['dateOfService', 'DESC']], limit: 50,
    });
    const term = choice(NAMES);
    await Patient.findAll({ where: { [Op.or]: [{ lastName: { [Op.iLike]: `${term}%` } }, { firstName: { [Op.iLike]: `%${term}%` } }] }, order: [['lastName', 'ASC']], limit: 20 });
    await Patient.findAndCountAll({ where: { state: choice(['CA', 'TX', 'NY', 'FL']) }, limit: 20, offset: 20 * i, order: [['id', 'ASC']] });
    await Appointment.findAll({
      where: { providerId: prov, status: ['Scheduled', 'Confirmed'], scheduledDateTime: { [Op.gte]: d0, [Op.lt]: d1 } },
      include: [{ model: Patient, as: 'patient', attributes: ['id', 'mrn', 'firstName', 'lastName'] }],
      order: [['scheduledDateTime', 'ASC']],
    });
    await Provider.findAll({ where: { isActive: true, state: { [Op.notIn]: ['CA', 'NY'] }, organizationName: { [Op.is]: null } }, attributes: ['id', 'npi'] });

    // joins, eager loading (nested, separate)
    await Claim.findAll({ where: { patientId: pid }, include: [{ model: Provider, as: 'provider' }, { model: Payer, as: 'payer' }], order: [['dateOfService', 'DESC']] });
    await Claim.findAll({ where: { providerId: prov, dateOfService: { [Op.gte]: ymd(d0) } }, include: [{ model: ClaimLine, as: 'lines' }, { model: Payment, as: 'payments', separate: true }], limit: 5 });
    await Patient.findAll({ include: [{ model: Claim, as: 'claims', where: { status: 'denied' }, required: true, attributes: [] }], attributes: ['id', 'mrn'], limit: 20, subQuery: false });

    // aggregates, GROUP BY, COALESCE, CASE
    await Claim.findAll({
      attributes: ['status', [fn('count', col('id')), 'n'], [fn('sum', col('billed_amount')), 'billed'], [fn('coalesce', fn('sum', col('paid_amount')), 0), 'paid']],
      where: { providerId: prov }, group: ['status'], order: [['status', 'ASC']], raw: true,
    });
    await Claim.findAll({
      attributes: [[col('payer.name'), 'payerName'], [fn('date_trunc', 'month', col('date_of_service')), 'month'], [fn('sum', col('billed_amount')), 'billed']],
      include: [{ model: Payer, as: 'payer', attributes: [] }],
      where: { dateOfService: { [Op.gte]: ymd(d0), [Op.lt]: ymd(d1) } },
      group: [col('payer.name'), fn('date_trunc', 'month', col('date_of_service'))],
      having: sequelize.where(fn('count', col('Claim.id')), Op.gt, 2), raw: true,
    });
    await Claim.count({ where: { payerId: randint(1, 30) }, distinct: true, col: 'patientId' });
    await Claim.sum('billedAmount', { where: { providerId: prov, status: 'paid' } });
    await Claim.findAll({
      attributes: ['id', [lit(`CASE WHEN "paid_amount" IS NULL THEN 'unpaid' WHEN "paid_amount" < "billed_amount" * 0.5 THEN 'short' ELSE 'ok' END`), 'paymentState']],
      where: { patientId: pid }, raw: true,
    });
    await Appointment.count({ where: { providerId: prov, status: 'Scheduled' } });
    await Appointment.count({ where: { providerId: prov }, group: ['status'] });

    // EXISTS subquery, window function
    await Patient.findAll({
      attributes: ['id', 'mrn'],
      where: lit(`EXISTS (SELECT 1 FROM claims c WHERE c.patient_id = "Patient"."id" AND c.status = 'denied' AND c.date_of_service > ${sequelize.escape(ymd(d0))})`),
      order: [['id', 'ASC']], limit: 20,
    });
    await Claim.findAll({
      attributes: ['id', 'providerId', 'billedAmount', [lit('rank() OVER (PARTITION BY "provider_id" ORDER BY "billed_amount" DESC)'), 'rk']],
      where: { dateOfService: { [Op.between]: [ymd(d0), ymd(d1)] } }, limit: 50, raw: true,
    });

    // JSONB
    await AuditLog.findAll({ where: { details: { app: choice(['ehr-web', 'scheduler', 'billing']) }, occurredAt: { [Op.gte]: new Date(Date.UTC(2026, i % 12, 1)) } }, order: [['occurredAt', 'DESC']], limit: 20 });
    await AuditLog.count({ where: { details: { [Op.contains]: { purpose: choice(['treatment', 'payment']) } } } });
    await AuditLog.findAll({ where: { 'details.purpose': 'treatment', tableName: 'patients', recordId: String(pid) }, attributes: ['id'] });

    // writes
    await sequelize.transaction(async (t) => {
      const appt = await Appointment.create({ patientId: pid, providerId: prov, scheduledDateTime: new Date(Date.UTC(2027, 5, 1 + i, 9)), duration: 30, status: 'Scheduled', appointmentType: 'follow_up', reason: 'Corpus Sequelize' }, { transaction: t });
      await AuditLog.create({ userId: choice(userIds), action: 'Create', tableName: 'appointments', recordId: String(appt.id), clientIp: `10.7.8.${i}`, details: { app: 'scheduler', iteration: i } }, { transaction: t });
      await Appointment.update({ status: 'Confirmed' }, { where: { id: appt.id }, returning: true, transaction: t });
      await appt.destroy({ transaction: t });
    });
    await sequelize.transaction(async (t) => {
      const c = await Claim.findByPk(cid, { lock: t.LOCK.UPDATE, transaction: t });
      await c.update({ updatedAt: new Date() }, { transaction: t });
      await Claim.update({ pendReason: fn('coalesce', col('pend_reason'), 'corpus review') }, { where: { id: Array.from({ length: 2 + (i % 4) }, () => randint(1, maxClaim)), status: 'pended' }, transaction: t });
    });
    await CptCode.upsert({ code: `ZS${String(i).padStart(3, '0')}`, description: `sequelize corpus ${i}`, category: 'Corpus', relativeValue: 1.75 });
    await CptCode.bulkCreate([{ code: '99213', description: 'Office visit', category: 'E/M', relativeValue: 1.3 }], { ignoreDuplicates: true });
    await CptCode.destroy({ where: { code: `ZS${String(i).padStart(3, '0')}` } });
    await CptCode.findOrCreate({ where: { code: `ZT${String(i).padStart(3, '0')}` }, defaults: { description: 'x', category: 'Corpus', relativeValue: 0.5 } });
    await CptCode.destroy({ where: { code: { [Op.like]: 'ZT%' } } });
    try {
      await sequelize.transaction(async (t) => {
        await Patient.update({ updatedAt: new Date() }, { where: { id: pid }, transaction: t });
        throw new Error('rollback on purpose');
      });
    } catch (e) { /* rolled back */ }
    await sequelize.query('SELECT count(*) AS n FROM claims WHERE patient_id = :pid', { replacements: { pid }, type: QueryTypes.SELECT });
    await sequelize.query('SELECT count(*) AS n FROM claims WHERE provider_id = $1', { bind: [prov], type: QueryTypes.SELECT });
  }
  await sequelize.close();
  console.log('sequelize: done');
}

main().catch((e) => { console.error(e); process.exit(1); });
