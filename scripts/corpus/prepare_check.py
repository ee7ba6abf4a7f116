#!/usr/bin/python3
"""PREPAREs every non-utility statement text of the corpus as pg_stat_statements recorded it
and lists those PostgreSQL itself cannot prepare, with the reason: a baseline for what a
planner working from pg_stat_statements text must handle (internal/corpus/README.md).

Needs a seeded demo database with pgbench's tables too (`pgbench -i -s 1`), from the libpq
environment (PGHOST, PGPORT, PGUSER, PGDATABASE); e.g. `CORPUS_KEEP=1 scripts/corpus/capture
pgbench-simple` leaves one up. Debian's /usr/bin/python3 with python3-psycopg2.
"""
import glob
import json
import os
import re
import sys

import psycopg2

UTILITY = re.compile(r"(?i)^\s*(SET|SHOW|BEGIN|START|COMMIT|ROLLBACK|RELEASE|SAVEPOINT|END|VACUUM|TRUNCATE|CREATE|DROP)\b")
TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "internal", "corpus", "testdata")


def main():
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    total = failed = 0
    for path in sorted(glob.glob(os.path.join(TESTDATA, "*.pgss.jsonl"))):
        source = os.path.basename(path)[: -len(".pgss.jsonl")]
        n = bad = 0
        with open(path) as f:
            for line in f:
                q = json.loads(line)["query"]
                if UTILITY.match(q):
                    continue
                n += 1
                try:
                    cur.execute("BEGIN")
                    cur.execute("PREPARE corpus_check AS " + q)  # no parameters: psycopg2 leaves % alone
                    cur.execute("DEALLOCATE corpus_check")  # PREPARE is not transactional
                    cur.execute("ROLLBACK")
                except psycopg2.Error as e:
                    cur.execute("ROLLBACK")
                    bad += 1
                    print("%s: %s :: %s" % (source, str(e).splitlines()[0], " ".join(q.split())[:160]))
        print("## %s: %d non-utility, %d cannot be prepared" % (source, n, bad))
        total += n
        failed += bad
    print("## total: %d non-utility, %d cannot be prepared" % (total, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
