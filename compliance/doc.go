// Package compliance audits a PostgreSQL database against the technical safeguards of the
// HIPAA Security Rule (45 CFR 164.312) and hardens it.
//
// Discover finds the PHI: every column of every user table is judged from its name (the
// healthcare package's dictionary), from sampled values (TABLESAMPLE SYSTEM with a row
// cap, in a read-only transaction under a statement timeout; values are counted by the
// validators and dropped, never stored or printed), and from structure (a column that
// references an MRN column is an MRN). A role that may not read a table still gets the
// name-based verdict, marked name_only.
package compliance
