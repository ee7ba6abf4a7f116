// pgmedic statement corpus client: Hibernate 3.6 (HQL and the Criteria API) over PgJDBC.
//
// Debian packages libhibernate3-java, libjavassist-java and libpostgresql-jdbc-java; Java 17.
// Entities are annotated classes mapped onto the demo tables (hbm2ddl off). PgJDBC sends every
// statement with the extended protocol; a PreparedStatement executed prepareThreshold (5) times
// switches from the unnamed statement to a named server-side one (S_1, S_2, ...).
//
// Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE; TCP only);
// CORPUS_ITERATIONS (default 8) is how many times each operation runs, with different values.

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Random;
import java.util.Set;

import javax.persistence.Column;
import javax.persistence.Entity;
import javax.persistence.FetchType;
import javax.persistence.GeneratedValue;
import javax.persistence.GenerationType;
import javax.persistence.Id;
import javax.persistence.JoinColumn;
import javax.persistence.ManyToOne;
import javax.persistence.OneToMany;
import javax.persistence.Table;
import javax.persistence.Temporal;
import javax.persistence.TemporalType;

import org.hibernate.Criteria;
import org.hibernate.FetchMode;
import org.hibernate.Hibernate;
import org.hibernate.LockOptions;
import org.hibernate.Session;
import org.hibernate.SessionFactory;
import org.hibernate.Transaction;
import org.hibernate.cfg.AnnotationConfiguration;
import org.hibernate.criterion.DetachedCriteria;
import org.hibernate.criterion.MatchMode;
import org.hibernate.criterion.Order;
import org.hibernate.criterion.Projections;
import org.hibernate.criterion.Property;
import org.hibernate.criterion.Restrictions;
import org.hibernate.criterion.Subqueries;

public class Client {

    @Entity(name = "Payer")
    @Table(name = "payers")
    public static class Payer {
        @Id public Integer id;
        @Column(name = "payer_code") public String payerCode;
        public String name;
        @Column(name = "payer_type") public String payerType;
        public String state;
    }

    @Entity(name = "Provider")
    @Table(name = "providers")
    public static class Provider {
        @Id public Integer id;
        public String npi;
        @Column(name = "first_name") public String firstName;
        @Column(name = "last_name") public String lastName;
        @Column(name = "organization_name") public String organizationName;
        public String specialty;
        public String network;
        public String state;
        @Column(name = "is_active") public Boolean active;
        @Column(name = "accepting_new_patients") public Boolean acceptingNewPatients;
    }

    @Entity(name = "Patient")
    @Table(name = "patients")
    public static class Patient {
        @Id public Long id;
        public String mrn;
        @Column(name = "first_name") public String firstName;
        @Column(name = "last_name") public String lastName;
        @Column(name = "date_of_birth") @Temporal(TemporalType.DATE) public Date dateOfBirth;
        public String sex;
        public String city;
        public String state;
        public String email;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "primary_provider_id") public Provider primaryProvider;
        @OneToMany(mappedBy = "patient") public Set<Claim> claims;
        @Column(name = "updated_at") @Temporal(TemporalType.TIMESTAMP) public Date updatedAt;
    }

    @Entity(name = "Claim")
    @Table(name = "claims")
    public static class Claim {
        @Id public Long id;
        @Column(name = "claim_number") public String claimNumber;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "patient_id") public Patient patient;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "provider_id") public Provider provider;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "payer_id") public Payer payer;
        @Column(name = "claim_type") public String claimType;
        @Column(name = "date_of_service") @Temporal(TemporalType.DATE) public Date dateOfService;
        @Column(name = "received_at") @Temporal(TemporalType.TIMESTAMP) public Date receivedAt;
        public String status;
        @Column(name = "pend_reason") public String pendReason;
        @Column(name = "billed_amount") public BigDecimal billedAmount;
        @Column(name = "paid_amount") public BigDecimal paidAmount;
        @Column(name = "updated_at") @Temporal(TemporalType.TIMESTAMP) public Date updatedAt;
        @OneToMany(mappedBy = "claim") public Set<Payment> payments;
    }

    @Entity(name = "Payment")
    @Table(name = "payments")
    public static class Payment {
        @Id public Long id;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "claim_id") public Claim claim;
        public BigDecimal amount;
        public String method;
        public String status;
        @Column(name = "created_at") @Temporal(TemporalType.TIMESTAMP) public Date createdAt;
    }

    @Entity(name = "Appointment")
    @Table(name = "appointments")
    public static class Appointment {
        @Id @GeneratedValue(strategy = GenerationType.IDENTITY) public Long id;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "patient_id") public Patient patient;
        @ManyToOne(fetch = FetchType.LAZY) @JoinColumn(name = "provider_id") public Provider provider;
        @Column(name = "scheduled_date_time") @Temporal(TemporalType.TIMESTAMP) public Date scheduledDateTime;
        public Integer duration;
        public String status;
        @Column(name = "appointment_type") public String appointmentType;
        public String reason;
    }

    @Entity(name = "User")
    @Table(name = "users")
    public static class User {
        @Id public Long id;
        public String email;
        @Column(name = "password_hash") public String passwordHash;
        @Column(name = "is_active") public Boolean active;
        @Column(name = "user_type") public String userType;
        @Column(name = "last_login_at") @Temporal(TemporalType.TIMESTAMP) public Date lastLoginAt;
    }

    @Entity(name = "AuditLog")
    @Table(name = "audit_logs")
    public static class AuditLog {
        @Id @GeneratedValue(strategy = GenerationType.IDENTITY) public Long id;
        @Column(name = "user_id") public Long userId;
        public String action;
        @Column(name = "table_name") public String tableName;
        @Column(name = "record_id") public String recordId;
        @Column(name = "client_ip") public String clientIp;     // inet; stringtype=unspecified
        @Column(name = "occurred_at", insertable = false, updatable = false) @Temporal(TemporalType.TIMESTAMP) public Date occurredAt;
        public String details;                                // jsonb; stringtype=unspecified
    }

    @Entity(name = "CptCode")
    @Table(name = "cpt_codes")
    public static class CptCode {
        @Id public String code;
        public String description;
        public String category;
        @Column(name = "relative_value") public BigDecimal relativeValue;
    }

    static final Random RND = new Random(7);
    static final List<String> STATUSES = Arrays.asList("received", "pended", "adjudicated", "paid", "denied", "appealed", "void");
    static final List<String> NAMES = Arrays.asList("smi", "john", "mar", "lee", "gar", "wil", "br", "and");

    static <T> T choice(List<T> a) { return a.get(RND.nextInt(a.size())); }
    static List<String> sample(List<String> a, int k) { List<String> c = new ArrayList<>(a); Collections.shuffle(c, RND); return c.subList(0, k); }
    static long randLong(long max) { return 1 + (long) (RND.nextDouble() * max); }
    @SuppressWarnings("deprecation")
    static Date day() { return new Date(120 + RND.nextInt(7), RND.nextInt(12), 1 + RND.nextInt(28)); }
    static Date plusDays(Date d, int n) { return new Date(d.getTime() + n * 86400000L); }

    public static void main(String[] args) {
        int iter = Integer.parseInt(System.getenv().getOrDefault("CORPUS_ITERATIONS", "8"));
        String url = String.format("jdbc:postgresql://%s:%s/%s?stringtype=unspecified",
                System.getenv().getOrDefault("PGHOST", "localhost"), System.getenv().getOrDefault("PGPORT", "5432"),
                System.getenv().getOrDefault("PGDATABASE", "demo"));
        AnnotationConfiguration cfg = new AnnotationConfiguration();
        cfg.setProperty("hibernate.connection.driver_class", "org.postgresql.Driver")
           .setProperty("hibernate.connection.url", url)
           .setProperty("hibernate.connection.username", System.getenv().getOrDefault("PGUSER", "postgres"))
           .setProperty("hibernate.connection.pool_size", "2")
           .setProperty("hibernate.dialect", "org.hibernate.dialect.PostgreSQLDialect")
           .setProperty("hibernate.hbm2ddl.auto", "none")
           .setProperty("hibernate.jdbc.batch_size", "0")
           .setProperty("hibernate.show_sql", "false");
        for (Class<?> c : new Class<?>[] {Payer.class, Provider.class, Patient.class, Claim.class, Payment.class,
                Appointment.class, User.class, AuditLog.class, CptCode.class}) {
            cfg.addAnnotatedClass(c);
        }
        SessionFactory sf = cfg.buildSessionFactory();
        try {
            run(sf, iter);
        } finally {
            sf.close();
        }
        System.out.println("hibernate: done");
    }

    @SuppressWarnings("unchecked")
    static void run(SessionFactory sf, int iter) {
        List<String> mrns, npis, emails;
        List<Long> userIds;
        long maxPatient, maxClaim, maxProvider;
        Session s = sf.openSession();
        try {
            mrns = s.createQuery("select p.mrn from Patient p order by p.id").setMaxResults(50).list();
            npis = s.createQuery("select p.npi from Provider p order by p.id").setMaxResults(50).list();
            emails = s.createQuery("select u.email from User u where u.active = true order by u.id").setMaxResults(50).list();
            userIds = s.createQuery("select u.id from User u order by u.id").setMaxResults(100).list();
            maxPatient = (Long) s.createCriteria(Patient.class).setProjection(Projections.max("id")).uniqueResult();
            maxClaim = (Long) s.createCriteria(Claim.class).setProjection(Projections.max("id")).uniqueResult();
            maxProvider = ((Integer) s.createCriteria(Provider.class).setProjection(Projections.max("id")).uniqueResult()).longValue();
        } finally {
            s.close();
        }

        for (int i = 0; i < iter; i++) {
            long pid = randLong(maxPatient);
            int prov = (int) randLong(maxProvider);
            long cid = randLong(maxClaim);
            Date d0 = day();
            Date d1 = plusDays(d0, 30 + RND.nextInt(335));
            s = sf.openSession();
            Transaction tx = s.beginTransaction();
            try {
                // lookups by id and natural keys
                Patient p = (Patient) s.get(Patient.class, pid);
                Hibernate.initialize(p.primaryProvider);
                s.createQuery("from Patient p where p.mrn = :mrn").setString("mrn", choice(mrns)).uniqueResult();
                s.createCriteria(Provider.class).add(Restrictions.eq("npi", choice(npis))).uniqueResult();
                User u = (User) s.createQuery("from User u where lower(u.email) = lower(:email) and u.active = true")
                        .setString("email", choice(emails)).uniqueResult();
                if (u != null) {
                    u.lastLoginAt = new Date();
                }
                s.flush();

                // paged lists, IN lists, date ranges, LIKE
                s.createQuery("from Patient p order by p.lastName, p.firstName, p.id").setFirstResult(25 * i).setMaxResults(25).list();
                s.createQuery("select c.id, c.claimNumber, c.status, c.billedAmount from Claim c where c.status in (:st) "
                        + "and c.dateOfService between :d0 and :d1 order by c.dateOfService desc")
                        .setParameterList("st", sample(STATUSES, 1 + i % 3)).setDate("d0", d0).setDate("d1", d1)
                        .setMaxResults(50).list();
                String term = choice(NAMES);
                s.createCriteria(Patient.class)
                        .add(Restrictions.or(Restrictions.ilike("lastName", term, MatchMode.START),
                                Restrictions.ilike("firstName", term, MatchMode.ANYWHERE)))
                        .addOrder(Order.asc("lastName")).setMaxResults(20).list();
                s.createCriteria(Provider.class).add(Restrictions.eq("active", true))
                        .add(Restrictions.not(Restrictions.in("state", new Object[] {"CA", "NY"})))
                        .add(Restrictions.isNull("organizationName")).list();
                s.createQuery("from Appointment a join fetch a.patient where a.provider.id = :prov and a.status in ('Scheduled', 'Confirmed') "
                        + "and a.scheduledDateTime >= :t0 and a.scheduledDateTime < :t1 order by a.scheduledDateTime")
                        .setInteger("prov", prov).setTimestamp("t0", d0).setTimestamp("t1", d1).list();

                // joins
                s.createQuery("select c.claimNumber, c.dateOfService, c.status, pr.npi, pr.lastName, py.name "
                        + "from Claim c join c.provider pr join c.payer py where c.patient.id = :pid order by c.dateOfService desc")
                        .setLong("pid", pid).list();
                s.createCriteria(Claim.class).setFetchMode("provider", FetchMode.JOIN).setFetchMode("payer", FetchMode.JOIN)
                        .add(Restrictions.eq("provider.id", prov)).add(Restrictions.ge("dateOfService", d0)).setMaxResults(5).list();
                s.createQuery("select distinct p.id from Patient p join p.claims c where c.status = 'denied'").setMaxResults(20).list();

                // aggregates, GROUP BY, COALESCE, CASE
                s.createQuery("select c.status, count(c), sum(c.billedAmount), coalesce(sum(c.paidAmount), 0) from Claim c "
                        + "where c.provider.id = :prov group by c.status order by c.status").setInteger("prov", prov).list();
                s.createCriteria(Claim.class).createAlias("payer", "py")
                        .add(Restrictions.ge("dateOfService", d0)).add(Restrictions.lt("dateOfService", d1))
                        .setProjection(Projections.projectionList().add(Projections.groupProperty("py.name"))
                                .add(Projections.sum("billedAmount")).add(Projections.avg("paidAmount")).add(Projections.rowCount()))
                        .list();
                s.createQuery("select count(distinct c.patient.id) from Claim c where c.payer.id = :payer")
                        .setInteger("payer", 1 + RND.nextInt(30)).uniqueResult();
                s.createQuery("select c.id, case when c.paidAmount is null then 'unpaid' when c.paidAmount < c.billedAmount * 0.5 "
                        + "then 'short' else 'ok' end from Claim c where c.patient.id = :pid").setLong("pid", pid).list();
                s.createCriteria(Appointment.class).add(Restrictions.eq("provider.id", prov)).add(Restrictions.eq("status", "Scheduled"))
                        .setProjection(Projections.rowCount()).uniqueResult();

                // EXISTS / subqueries
                s.createQuery("select p.id, p.mrn from Patient p where exists (select 1 from Claim c where c.patient = p "
                        + "and c.status = 'denied' and c.dateOfService > :d0) order by p.id").setDate("d0", d0).setMaxResults(20).list();
                DetachedCriteria busy = DetachedCriteria.forClass(Appointment.class)
                        .add(Restrictions.ge("scheduledDateTime", d0)).setProjection(Projections.property("provider.id"));
                s.createCriteria(Provider.class).add(Restrictions.eq("active", true)).add(Subqueries.propertyNotIn("id", busy)).list();
                s.createQuery("from Claim c where c.billedAmount > (select avg(c2.billedAmount) * 3 from Claim c2 where c2.provider = c.provider) "
                        + "and c.provider.id = :prov").setInteger("prov", prov).list();

                // JSONB through SQL restrictions (HQL has no jsonb operators)
                s.createCriteria(AuditLog.class)
                        .add(Restrictions.sqlRestriction("{alias}.details->>'app' = ?", choice(Arrays.asList("ehr-web", "scheduler", "billing")), Hibernate.STRING))
                        .add(Restrictions.ge("occurredAt", d0)).addOrder(Order.desc("occurredAt")).setMaxResults(20).list();
                s.createCriteria(AuditLog.class)
                        .add(Restrictions.sqlRestriction("{alias}.details @> cast(? as jsonb)", "{\"purpose\": \"" + choice(Arrays.asList("treatment", "payment")) + "\"}", Hibernate.STRING))
                        .setProjection(Projections.rowCount()).uniqueResult();
                tx.commit();
            } catch (RuntimeException e) {
                tx.rollback();
                throw e;
            } finally {
                s.close();
            }

            // writes
            s = sf.openSession();
            tx = s.beginTransaction();
            try {
                Appointment a = new Appointment();
                a.patient = (Patient) s.load(Patient.class, pid);
                a.provider = (Provider) s.load(Provider.class, prov);
                a.scheduledDateTime = plusDays(new Date(), 200 + i);
                a.duration = 30;
                a.status = "Scheduled";
                a.appointmentType = "follow_up";
                a.reason = "Corpus Hibernate";
                s.save(a);
                AuditLog l = new AuditLog();
                l.userId = choice(userIds);
                l.action = "Create";
                l.tableName = "appointments";
                l.recordId = String.valueOf(a.id);
                l.clientIp = "10.15.16." + i;
                l.details = "{\"app\": \"scheduler\", \"iteration\": " + i + "}";
                s.save(l);
                a.status = "Confirmed";
                s.flush();
                s.delete(a);
                Claim c = (Claim) s.get(Claim.class, cid, LockOptions.UPGRADE);
                c.updatedAt = new Date();
                List<Long> ids = new ArrayList<>();
                for (int k = 0; k < 2 + i % 4; k++) {
                    ids.add(randLong(maxClaim));
                }
                s.createQuery("update Claim c set c.pendReason = coalesce(c.pendReason, 'corpus review') where c.id in (:ids) and c.status = 'pended'")
                        .setParameterList("ids", ids).executeUpdate();
                CptCode code = new CptCode();
                code.code = String.format("ZH%03d", i);
                code.description = "hibernate corpus " + i;
                code.category = "Corpus";
                code.relativeValue = new BigDecimal("1.60");
                s.merge(code);
                s.flush();
                s.createQuery("delete from CptCode c where c.code = :code").setString("code", code.code).executeUpdate();
                tx.commit();
            } catch (RuntimeException e) {
                tx.rollback();
                throw e;
            } finally {
                s.close();
            }
            s = sf.openSession();
            tx = s.beginTransaction();
            try {
                s.createQuery("update Patient p set p.updatedAt = current_timestamp() where p.id = :pid").setLong("pid", pid).executeUpdate();
            } finally {
                tx.rollback();
                s.close();
            }
        }
    }
}
