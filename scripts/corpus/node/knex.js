'use strict';
// pgmedic statement corpus client: the Knex query builder over node-postgres (pg).
//
// Knex sends every value as a bind parameter ($1, ...), so node-postgres uses the extended
// query protocol with the unnamed statement for each parameterised query; statements
// without values (BEGIN, COMMIT, ...) go through the simple protocol.
//
// Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE);
// CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.

const knexFactory = require('knex');

const ITER = parseInt(process.env.CORPUS_ITERATIONS || '8', 10);
let seed = 5;
function rand() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
function randint(lo, hi) { return lo + Math.floor(rand() * (hi - lo + 1)); }
function choice(a) { return a[randint(0, a.length - 1)]; }
function sample(a, k) { const c = a.slice(); const out = []; while (out.length < k) out.push(c.splice(randint(0, c.length - 1), 1)[0]); return out; }
function day() { return new Date(Date.UTC(randint(2020, 2026), randint(0, 11), randint(1, 28))); }
function ymd(d) { return d.toISOString().slice(0, 10); }
const STATUSES = ['received', 'pended', 'adjudicated', 'paid', 'denied', 'appealed', 'void'];
const NAMES = ['smi', 'john', 'mar', 'lee', 'gar', 'wil', 'br', 'and'];

const knex = knexFactory({
  client: 'pg',
  connection: {
    host: process.env.PGHOST, port: parseInt(process.env.PGPORT || '5432', 10),
    user: process.env.PGUSER, database: process.env.PGDATABASE || 'demo',
  },
  pool: { min: 1, max: 2 },
});

async function main() {
  const mrns = await knex('patients').orderBy('id').limit(50).pluck('mrn');
  const npis = await knex('providers').orderBy('id').limit(50).pluck('npi');
  const emails = await knex('users').where({ is_active: true }).orderBy('id').limit(50).pluck('email');
  const userIds = (await knex('users').orderBy('id').limit(100).pluck('id')).map(Number);
  const maxPatient = Number((await knex('patients').max('id as m').first()).m);
  const maxClaim = Number((await knex('claims').max('id as m').first()).m);
  const maxProvider = Number((await knex('providers').max('id as m').first()).m);

  for (let i = 0; i < ITER; i++) {
    const pid = randint(1, maxPatient), prov = randint(1, maxProvider), cid = randint(1, maxClaim);
    const d0 = day(), d1 = new Date(d0.getTime() + randint(30, 365) * 86400000);

    // lookups by id and natural keys
    await knex('patients').where('id', pid).first();
    await knex('patients').select('id', 'first_name', 'last_name').where({ mrn: choice(mrns) }).first();
    await knex('providers').where('npi', choice(npis)).first();
    await knex('users').select('id', 'password_hash', 'user_type')
      .whereRaw('lower(email) = ?', [choice(emails).toLowerCase()]).andWhere('is_active', true).first();
    await knex('users').where('email', choice(emails)).update({ last_login_at: knex.fn.now() });

    // paged lists, IN, date ranges, ILIKE, NULL tests
    await knex('patients').select('id', 'mrn', 'last_name', 'first_name')
      .orderBy([{ column: 'last_name' }, { column: 'first_name' }, { column: 'id' }]).limit(25).offset(25 * i);
    await knex('claims').select('id', 'claim_number', 'status', 'billed_amount')
      .whereIn('status', sample(STATUSES, 1 + (i % 3))).whereBetween('date_of_service', [ymd(d0), ymd(d1)])
      .orderBy('date_of_service', 'desc').limit(50);
    const term = choice(NAMES);
    await knex('patients').select('id', 'first_name', 'last_name')
      .whereILike('last_name', `${term}%`).orWhereILike('first_name', `%${term}%`).orderBy('last_name').limit(20);
    await knex('providers').select('id', 'npi').where('is_active', true).whereNotIn('state', ['CA', 'NY'])
      .whereNull('organization_name');
    await knex('appointments').where('provider_id', prov).whereIn('status', ['Scheduled', 'Confirmed'])
      .where('scheduled_date_time', '>=', d0).where('scheduled_date_time', '<', d1).orderBy('scheduled_date_time');
    await knex('availabilities').where({ provider_id: prov, day_of_week: randint(0, 6) }).orderBy('start_time');

    // joins across patients / claims / providers / payers
    await knex('claims as c').join('providers as pr', 'pr.id', 'c.provider_id').join('payers as py', 'py.id', 'c.payer_id')
      .select('c.claim_number', 'c.date_of_service', 'c.status', 'pr.npi', 'pr.last_name as provider_last_name', 'py.name as payer_name')
      .where('c.patient_id', pid).orderBy('c.date_of_service', 'desc');
    await knex('patients as p').leftJoin('appointments as a', 'a.patient_id', 'p.id').whereNull('a.id')
      .select('p.id').limit(10);
    await knex('claim_lines as l').join('cpt_codes as cpt', 'cpt.code', 'l.cpt_code')
      .select('l.line_number', 'l.units', 'cpt.description').where('l.claim_id', cid).orderBy('l.line_number');

    // aggregates, GROUP BY, COALESCE, CASE, HAVING
    await knex('claims').select('status').count('* as n').sum('billed_amount as billed')
      .select(knex.raw('coalesce(sum(paid_amount), ?) as paid', [0]))
      .where('provider_id', prov).groupBy('status').orderBy('status');
    await knex('claims as c').join('payers as py', 'py.id', 'c.payer_id')
      .select('py.name', knex.raw("date_trunc('month', c.date_of_service) as month")).sum('c.billed_amount as billed')
      .where('c.date_of_service', '>=', ymd(d0)).where('c.date_of_service', '<', ymd(d1))
      .groupBy('py.name', 'month').havingRaw('count(*) > ?', [2]).orderBy(['month', 'py.name']);
    await knex('claims').countDistinct('patient_id as n').where('payer_id', randint(1, 30));
    await knex('claims').avg('paid_amount as avg').where('payer_id', randint(1, 30)).first();
    await knex('claims').select('id', knex.raw("CASE WHEN paid_amount IS NULL THEN 'unpaid' WHEN paid_amount < billed_amount * ? THEN 'short' ELSE 'ok' END AS payment_state", [0.5]))
      .where('patient_id', pid);
    await knex('appointments').count('* as n').where({ provider_id: prov, status: 'Scheduled' }).first();

    // EXISTS, IN subquery, CTE, window functions
    await knex('patients').select('id', 'mrn').whereExists(function () {
      this.select(knex.raw('1')).from('claims').whereRaw('claims.patient_id = patients.id')
        .where('status', 'denied').where('date_of_service', '>', ymd(d0));
    }).orderBy('id').limit(20);
    await knex('providers').select('id', 'npi').where('is_active', true)
      .whereNotIn('id', knex('appointments').select('provider_id').where('scheduled_date_time', '>=', d0));
    await knex.with('recent', (qb) => {
      qb.select('patient_id').count('* as n').max('date_of_service as last_dos').from('claims')
        .where('date_of_service', '>=', ymd(d0)).groupBy('patient_id');
    }).select('p.mrn', 'p.last_name', 'recent.n', 'recent.last_dos').from('patients as p')
      .join('recent', 'recent.patient_id', 'p.id').where('recent.n', '>=', 2).orderBy('recent.n', 'desc').limit(10);
    await knex.select('*').from(
      knex('claims').select('id', 'provider_id', 'billed_amount').rank('rk', function () {
        this.orderBy('billed_amount', 'desc').partitionBy('provider_id');
      }).whereBetween('date_of_service', [ymd(d0), ymd(d1)]).as('ranked'),
    ).where('rk', '<=', 3).orderBy(['provider_id', 'rk']);
    await knex('payments').select('claim_id', 'amount')
      .rowNumber('rn', 'created_at', 'claim_id').whereIn('claim_id', [cid, cid + 1, cid + 2]);

    // JSONB
    await knex('audit_logs').select('id', 'action').jsonExtract('details', '$.app', 'app')
      .whereJsonPath('details', '$.app', '=', choice(['ehr-web', 'scheduler', 'billing']))
      .where('occurred_at', '>=', new Date(Date.UTC(2026, i % 12, 1))).orderBy('occurred_at', 'desc').limit(20);
    await knex('audit_logs').count('* as n').whereJsonSupersetOf('details', { purpose: choice(['treatment', 'payment']) });
    await knex('audit_logs').select('id').whereRaw('details \\? ?', ['purpose']).where('user_id', choice(userIds)).limit(5);

    // writes: transactions, RETURNING, ON CONFLICT
    await knex.transaction(async (trx) => {
      const [appt] = await trx('appointments').insert({
        patient_id: pid, provider_id: prov, scheduled_date_time: new Date(Date.UTC(2027, 6, 1 + i, 9)), duration: 30,
        status: 'Scheduled', appointment_type: 'follow_up', reason: 'Corpus Knex',
      }).returning('id');
      await trx('audit_logs').insert({
        user_id: choice(userIds), action: 'Create', table_name: 'appointments', record_id: String(appt.id),
        client_ip: `10.11.12.${i}`, details: JSON.stringify({ app: 'scheduler', iteration: i }),
      });
      await trx('appointments').where('id', appt.id).update({ status: 'Confirmed' }, ['id', 'status']);
      await trx('appointments').where('id', appt.id).del().returning('*');
    });
    await knex.transaction(async (trx) => {
      const c = await trx('claims').select('id', 'status').where('id', cid).forUpdate().first();
      await trx('claims').where('id', c.id).update({ updated_at: trx.fn.now() });
      await trx('claims').whereIn('id', Array.from({ length: 2 + (i % 4) }, () => randint(1, maxClaim))).where('status', 'pended')
        .update({ pend_reason: trx.raw('coalesce(pend_reason, ?)', ['corpus review']) });
      await trx('claims').where('id', cid).increment('patient_responsibility', 0);
    });
    const code = `ZK${String(i).padStart(3, '0')}`;
    await knex('cpt_codes').insert({ code, description: `knex corpus ${i}`, category: 'Corpus', relative_value: 1.2 })
      .onConflict('code').merge(['description', 'relative_value']);
    await knex('cpt_codes').insert([{ code: '99213', description: 'Office visit', category: 'E/M', relative_value: 1.3 }])
      .onConflict('code').ignore();
    await knex('cpt_codes').where('code', code).del();
    try {
      await knex.transaction(async (trx) => {
        await trx('patients').where('id', pid).update({ updated_at: trx.fn.now() }, ['updated_at']);
        await trx.transaction(async (nested) => { // savepoint
          await nested('patients').where('id', pid).update({ city: nested.ref('city') });
        });
        throw new Error('rollback on purpose');
      });
    } catch (e) { /* rolled back */ }
  }
  await knex.destroy();
  console.log('knex: done');
}

main().catch((e) => { console.error(e); process.exit(1); });
