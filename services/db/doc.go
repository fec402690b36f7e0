// Package db holds the storage adapters behind Faultline's CRUD data layer, the
// Go counterpart of moleculer-db adapters.
//
// Every adapter implements [Adapter] with the same observable semantics, so a
// service can run against [Memory] inside the deterministic simulator and
// against [SQL] (SQLite or PostgreSQL) in production without behaving
// differently. To make that possible the adapters agree on:
//
//   - Values: entities always carry "id" as int64 and every declared field in
//     its canonical Go type (see [FieldType]); absent values are nil. Inputs
//     are converted leniently (JSON numbers, numeric strings) but never lossily.
//   - Ids: assigned by the adapter, 1, 2, 3... per table, never reused, not
//     even after [Adapter.Clear], so a stale reference can never resolve to a
//     different entity.
//   - Ordering: nil sorts before every value, strings compare byte-wise and
//     every sort ends with "id" ascending, so pages are deterministic.
//   - Search: case-insensitive for ASCII letters only, the common denominator
//     of SQLite's lower() and a byte-wise collation.
//   - Uniqueness: each [Model.Unique] set is enforced by the storage (a
//     unique index in SQL), NULLs exempt as in SQL, and a violation is
//     [ErrDuplicate] with a [DuplicateError] naming the set. It is the one
//     check-then-write that needs no lock: two processes inserting the same
//     key race on the database and exactly one wins.
//
// The shared conformance suite lives in package dbtest.
package db
