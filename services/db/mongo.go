package db

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MongoOptions tune a [Mongo] adapter. The zero value is the default.
type MongoOptions struct {
	// ObjectIDKey, when set (moleculer-db uses "_id"), adds the document's ObjectID
	// to every returned entity under this key, in its 24-hex-digit string form. The
	// by-id methods accept that string as well as the int64 id.
	ObjectIDKey string
}

// Mongo stores one model in a MongoDB collection of the same name, through any
// server speaking MongoDB's wire protocol (MongoDB, FerretDB). It keeps every
// semantic of the other adapters (see the package doc); the document layout is
// described in mongo_bson.go.
//
// Writes are atomic per entity without transactions, which a standalone mongod and
// FerretDB do not have: on MongoDB an update is one findAndModify whose filter
// carries the guard, and on servers that apply updates as read-then-write (FerretDB
// 1.x, detected at Connect) every write to an entity holds a lock document (see
// lockEntity), so the guarantees hold across processes there too. InsertMany is
// all-or-nothing by compensation: on a duplicate key the entities it inserted are
// deleted again, so a concurrent reader may briefly see part of a failed batch.
type Mongo struct {
	s          *schema
	d          *mongo.Database
	coll       *mongo.Collection
	ids, locks *mongo.Collection
	opts       MongoOptions
	// serial is set by Connect when the server cannot update atomically.
	serial bool
	// stripes queue this process's writers before the shared lock (see lockEntity).
	stripes [64]sync.Mutex
	claimMu sync.Mutex // queues this process's id claims (see claimIDs)
}

var _ Adapter = (*Mongo)(nil)

// NewMongo returns an adapter for m on database d; d's client stays the caller's to
// disconnect. An invalid model is reported by Connect and by every operation.
func NewMongo(d *mongo.Database, m Model, opts MongoOptions) *Mongo {
	return &Mongo{
		s: newSchema(m), d: d, opts: opts,
		coll:  d.Collection(m.Name),
		ids:   d.Collection(m.Name + ".ids"),
		locks: d.Collection(m.Name + ".locks"),
	}
}

// Serialized reports whether Connect found a server without atomic updates and
// the adapter locks entities for every write.
func (a *Mongo) Serialized() bool { return a.serial }

// Connect creates the indexes (idempotent): a unique one on "id" and one per
// Model.Unique set. On MongoDB a set's index is partial, covering only documents
// that have every field of the set, which exempts nil as SQL does; FerretDB 1.x has
// no partial indexes, but its unique indexes already skip documents lacking a field.
// Documents that already violate a set make Connect fail with ErrDuplicate.
func (a *Mongo) Connect(ctx context.Context) error {
	if a.s.err != nil {
		return a.s.err
	}
	var info bson.Raw
	if err := a.d.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return a.fail("connect", err)
	}
	_, ferret := info.Lookup("ferretdbVersion").StringValueOK()
	a.serial = ferret

	names := []string{IDField}
	models := []mongo.IndexModel{{Keys: bson.D{{Key: IDField, Value: 1}}, Options: options.Index().SetName(IDField).SetUnique(true)}}
	for i, set := range a.s.unique {
		keys := bson.D{}
		present := bson.D{}
		for _, f := range set {
			keys = append(keys, bson.E{Key: f, Value: 1})
			present = append(present, bson.E{Key: f, Value: bson.D{{Key: "$exists", Value: true}}})
		}
		o := options.Index().SetName(uniqueIndexName(i, set)).SetUnique(true)
		if !ferret {
			o.SetPartialFilterExpression(present)
		}
		names = append(names, uniqueIndexName(i, set))
		models = append(models, mongo.IndexModel{Keys: keys, Options: o})
	}
	if err := a.createIndexes(ctx, names, models); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%w (unique index on existing rows)", a.duplicate(ctx, err, nil, 0))
		}
		return a.fail("create indexes", err)
	}
	if ferret {
		_, err := a.locks.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "key", Value: 1}}, Options: options.Index().SetName("key").SetUnique(true)})
		if err != nil {
			return a.fail("create lock index", err)
		}
	}
	return nil
}

// createIndexes creates the indexes the collection lacks, by name, one request
// each. That sidesteps a FerretDB 1.x bug: a createIndexes request naming two or
// more indexes that exist panics its handler and drops the connection, as every
// restart of a process would, and two processes starting together too.
func (a *Mongo) createIndexes(ctx context.Context, names []string, models []mongo.IndexModel) error {
	specs, err := a.coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range specs {
		have[s.Name] = true
	}
	for i, m := range models {
		if have[names[i]] {
			continue
		}
		if _, err := a.coll.Indexes().CreateOne(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect is a no-op: the client belongs to the caller.
func (a *Mongo) Disconnect() error { return nil }

func (a *Mongo) begin(ctx context.Context) error {
	if a.s.err != nil {
		return a.s.err
	}
	return ctx.Err()
}

// selector addresses one entity by int64 id or, with ObjectIDKey set, by the hex
// ObjectID. A hex ObjectID has 24 digits and an int64 at most 19, so no string
// could mean both.
func (a *Mongo) selector(id any) (bson.D, bool) {
	if s, ok := id.(string); ok && a.opts.ObjectIDKey != "" && len(s) == 24 {
		if _, err := hex.DecodeString(s); err == nil {
			oid, err := bson.ObjectIDFromHex(s)
			return bson.D{{Key: "_id", Value: oid}}, err == nil
		}
	}
	n, ok := parseID(id)
	if !ok {
		return nil, false
	}
	return bson.D{{Key: IDField, Value: n}}, true
}

func (a *Mongo) decode(raw bson.Raw) (Entity, error) {
	return a.s.entityFromMongo(raw, a.opts.ObjectIDKey)
}

func (a *Mongo) Find(ctx context.Context, p FindParams) ([]Entity, error) {
	plan, err := a.s.compileFind(p)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := options.Find().SetSort(mongoSort(plan.sort))
	if plan.offset > 0 {
		o.SetSkip(int64(plan.offset))
	}
	if plan.limit > 0 {
		o.SetLimit(int64(plan.limit))
	}
	return a.findAll(ctx, a.s.mongoFilter(plan), o)
}

func (a *Mongo) findAll(ctx context.Context, filter bson.D, o *options.FindOptionsBuilder) ([]Entity, error) {
	cur, err := a.coll.Find(ctx, filter, o)
	if err != nil {
		return nil, a.fail("find", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := []Entity{}
	for cur.Next(ctx) {
		e, err := a.decode(cur.Current)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := cur.Err(); err != nil {
		return nil, a.fail("find", err)
	}
	return out, nil
}

func (a *Mongo) FindOne(ctx context.Context, q Query) (Entity, error) {
	es, err := a.Find(ctx, FindParams{Query: q, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return es[0], nil
}

func (a *Mongo) FindByID(ctx context.Context, id any) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	sel, ok := a.selector(id)
	if !ok {
		return nil, invalidID(id)
	}
	return a.findOne(ctx, sel)
}

func (a *Mongo) findOne(ctx context.Context, filter bson.D) (Entity, error) {
	raw, err := a.coll.FindOne(ctx, filter).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, a.fail("find", err)
	}
	return a.decode(raw)
}

func (a *Mongo) FindByIDs(ctx context.Context, ids []any) ([]Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	nums, oids := bson.A{}, bson.A{}
	for _, id := range ids {
		if sel, ok := a.selector(id); ok {
			if sel[0].Key == "_id" {
				oids = append(oids, sel[0].Value)
			} else {
				nums = append(nums, sel[0].Value)
			}
		}
	}
	out := make([]Entity, 0, len(ids))
	if len(nums)+len(oids) == 0 {
		return out, nil
	}
	found, err := a.findAll(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: IDField, Value: bson.D{{Key: "$in", Value: nums}}}},
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}},
	}}}, options.Find())
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Entity, len(found))
	byOID := map[string]Entity{}
	for _, e := range found {
		byID[e[IDField].(int64)] = e
		if hex, ok := e[a.opts.ObjectIDKey].(string); ok && a.opts.ObjectIDKey != "" {
			byOID[hex] = e
		}
	}
	for _, id := range ids {
		sel, ok := a.selector(id)
		if !ok {
			continue
		}
		var e Entity
		if oid, isOID := sel[0].Value.(bson.ObjectID); isOID {
			e = byOID[oid.Hex()]
		} else {
			e = byID[sel[0].Value.(int64)]
		}
		if e != nil {
			out = append(out, cloneEntity(e)) // a repeated id yields an independent entity
		}
	}
	return out, nil
}

func (a *Mongo) Count(ctx context.Context, q Query) (int, error) {
	plan, err := a.s.compileFind(FindParams{Query: q})
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := a.coll.CountDocuments(ctx, a.s.mongoFilter(plan))
	if err != nil {
		return 0, a.fail("count", err)
	}
	return int(n), nil
}

func (a *Mongo) Insert(ctx context.Context, e Entity) (Entity, error) {
	es, err := a.InsertMany(ctx, []Entity{e})
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// InsertMany validates everything and checks the batch against itself before it
// claims ids or writes, so a rejected batch normally leaves no trace.
func (a *Mongo) InsertMany(ctx context.Context, es []Entity) ([]Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	vals := make([][]any, len(es))
	for i, e := range es {
		v, err := a.s.values(e)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	if len(es) == 0 {
		return []Entity{}, nil
	}
	fresh := make([]Entity, len(vals))
	for i, v := range vals {
		fresh[i] = a.s.entity(0, v)
	}
	for _, set := range a.s.unique {
		seen := map[string]bool{}
		for _, e := range fresh {
			if k, ok := uniqueKey(set, e); ok {
				if seen[k] {
					return nil, &DuplicateError{Model: a.s.name, Fields: set}
				}
				seen[k] = true
			}
		}
	}
	first, err := a.claimIDs(ctx, len(es))
	if err != nil {
		return nil, err
	}
	docs := make([]any, len(vals))
	ids := make(bson.A, len(vals))
	for i, v := range vals {
		id := first + int64(i)
		oid := bson.NewObjectID()
		docs[i] = a.s.mongoDoc(oid, id, v)
		ids[i] = id
		fresh[i][IDField] = id
		if k := a.opts.ObjectIDKey; k != "" {
			fresh[i][k] = oid.Hex()
		}
	}
	if _, err := a.coll.InsertMany(ctx, docs); err != nil {
		// Compensate: whatever part of the batch went in goes out again, even when ctx
		// ended the insert half-way.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, derr := a.coll.DeleteMany(cctx, bson.D{{Key: IDField, Value: bson.D{{Key: "$in", Value: ids}}}}); derr != nil {
			return nil, errors.Join(a.fail("insert", err), a.fail("undo partial insert", derr))
		}
		if mongo.IsDuplicateKeyError(err) {
			return nil, a.duplicate(ctx, err, fresh, 0)
		}
		return nil, a.fail("insert", err)
	}
	return fresh, nil
}

// duplicate turns a duplicate key error into a *DuplicateError naming the set:
// from the index name in the message when the server gives it, otherwise by
// looking for a stored entity (other than self) holding the values of es in a set.
func (a *Mongo) duplicate(ctx context.Context, err error, es []Entity, self int64) error {
	if set, ok := a.s.uniqueSetOf(err.Error()); ok {
		return &DuplicateError{Model: a.s.name, Fields: set}
	}
	if len(es) == 0 && len(a.s.unique) == 1 {
		return &DuplicateError{Model: a.s.name, Fields: a.s.unique[0]}
	}
	for _, set := range a.s.unique {
		for _, e := range es {
			f, ok := a.s.uniqueValuesFilter(set, e)
			if !ok {
				continue
			}
			if self != 0 {
				f = append(f, bson.E{Key: IDField, Value: bson.D{{Key: "$ne", Value: self}}})
			}
			if n, cerr := a.coll.CountDocuments(ctx, f, options.Count().SetLimit(1)); cerr == nil && n > 0 {
				return &DuplicateError{Model: a.s.name, Fields: set}
			}
		}
	}
	return fmt.Errorf("%w (%v)", &DuplicateError{Model: a.s.name}, err)
}

// apply computes an update's result from the current entity, as Memory does.
func apply(cur Entity, plan *updatePlan) Entity {
	next := cloneEntity(cur)
	for _, s := range plan.set {
		next[s.field] = cloneValue(s.val)
	}
	for _, i := range plan.inc {
		next[i.field] = addNumber(next[i.field], i.delta)
	}
	return next
}

func (a *Mongo) UpdateByID(ctx context.Context, id any, u Update) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	plan, err := a.s.compileUpdate(u)
	if err != nil {
		return nil, err
	}
	sel, ok := a.selector(id)
	if !ok {
		return nil, invalidID(id)
	}
	if a.serial {
		return a.updateLocked(ctx, sel, plan)
	}
	return a.updateAtomic(ctx, sel, plan)
}

// changes is the update document for the fields plan writes, taking their new
// values from next: nil is $unset, everything else $set (an increment's result too,
// which is only correct under the entity lock).
func (a *Mongo) changes(plan *updatePlan, next Entity) bson.D {
	set, unset := bson.D{}, bson.D{}
	add := func(f string, t FieldType) {
		if v := next[f]; v == nil {
			unset = append(unset, bson.E{Key: f, Value: ""})
		} else {
			set = append(set, bson.E{Key: f, Value: mongoValue(t, v)})
		}
	}
	for _, s := range plan.set {
		add(s.field, s.typ)
	}
	for _, i := range plan.inc {
		add(i.field, i.typ)
	}
	u := bson.D{}
	if len(set) > 0 {
		u = append(u, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		u = append(u, bson.E{Key: "$unset", Value: unset})
	}
	return u
}

// updateLocked is the update of serialized mode: read, compute, write, all under
// the entity's lock.
func (a *Mongo) updateLocked(ctx context.Context, sel bson.D, plan *updatePlan) (Entity, error) {
	cur, err := a.findOne(ctx, sel)
	if err != nil {
		return nil, err
	}
	n := cur[IDField].(int64)
	unlock, err := a.lockEntity(ctx, n)
	if err != nil {
		return nil, err
	}
	defer unlock()
	byID := bson.D{{Key: IDField, Value: n}}
	if cur, err = a.findOne(ctx, byID); err != nil { // what it is now that we hold the lock
		return nil, err
	}
	next := apply(cur, plan)
	if plan.guard != nil && !plan.guard.passes(next[plan.guard.field]) {
		return nil, ErrGuard
	}
	u := a.changes(plan, next)
	if len(u) == 0 {
		return next, nil
	}
	res, err := a.coll.UpdateOne(ctx, byID, u)
	switch {
	case a.isDuplicate(err):
		return nil, a.duplicate(ctx, err, []Entity{next}, n)
	case err != nil:
		return nil, a.fail("update", err)
	case res.MatchedCount == 0:
		return nil, ErrNotFound // removed by a writer that does not lock
	}
	return next, nil
}

// updateAtomic is one findAndModify: $set, $unset and $inc applied by the server,
// the guard folded into the filter, so that no other write can come in between.
func (a *Mongo) updateAtomic(ctx context.Context, sel bson.D, plan *updatePlan) (Entity, error) {
	filter := sel
	if g := plan.guard; g != nil {
		cond, possible := guardFilter(g, plan)
		if !possible {
			return nil, a.notFoundOrGuard(ctx, sel)
		}
		if cond != nil {
			filter = append(bson.D{}, sel...)
			filter = append(filter, cond...)
		}
	}
	set, unset, inc := bson.D{}, bson.D{}, bson.D{}
	for _, s := range plan.set {
		if s.val == nil {
			unset = append(unset, bson.E{Key: s.field, Value: ""})
		} else {
			set = append(set, bson.E{Key: s.field, Value: mongoValue(s.typ, s.val)})
		}
	}
	for _, i := range plan.inc {
		inc = append(inc, bson.E{Key: i.field, Value: i.delta})
	}
	u := bson.D{}
	for _, part := range []bson.E{{Key: "$set", Value: set}, {Key: "$unset", Value: unset}, {Key: "$inc", Value: inc}} {
		if len(part.Value.(bson.D)) > 0 {
			u = append(u, part)
		}
	}
	var res *mongo.SingleResult
	if len(u) == 0 {
		res = a.coll.FindOne(ctx, filter)
	} else {
		res = a.coll.FindOneAndUpdate(ctx, filter, u, options.FindOneAndUpdate().SetReturnDocument(options.After))
	}
	raw, err := res.Raw()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		if plan.guard == nil {
			return nil, ErrNotFound
		}
		return nil, a.notFoundOrGuard(ctx, sel)
	case mongo.IsDuplicateKeyError(err):
		cur, ferr := a.findOne(ctx, sel)
		if ferr != nil {
			return nil, a.duplicate(ctx, err, nil, 0)
		}
		return nil, a.duplicate(ctx, err, []Entity{apply(cur, plan)}, cur[IDField].(int64))
	case err != nil:
		return nil, a.fail("update", err)
	}
	return a.decode(raw)
}

// isDuplicate recognises a duplicate key error. FerretDB 1.x reports a unique
// index violated by an update as an InternalError carrying SQLite's message rather
// than as code 11000.
func (a *Mongo) isDuplicate(err error) bool {
	return mongo.IsDuplicateKeyError(err) || (a.serial && err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed"))
}

// notFoundOrGuard tells why a guarded update matched nothing; ErrNotFound wins.
func (a *Mongo) notFoundOrGuard(ctx context.Context, sel bson.D) error {
	n, err := a.coll.CountDocuments(ctx, sel, options.Count().SetLimit(1))
	switch {
	case err != nil:
		return a.fail("update", err)
	case n == 0:
		return ErrNotFound
	}
	return ErrGuard
}

// guardFilter expresses "after the update, field >= min" as a condition on the
// current value. possible is false when no current value can satisfy it; cond is
// nil when every one does (the guard field is set to a passing value).
func guardFilter(g *guardPlan, plan *updatePlan) (cond bson.D, possible bool) {
	if v, isSet := plan.setValue(g.field); isSet {
		return nil, g.passes(v)
	}
	delta, isInc := plan.incDelta(g.field)
	if !isInc {
		return bson.D{{Key: g.field, Value: bson.D{{Key: "$gte", Value: g.min}}}}, true
	}
	var threshold any
	switch d := delta.(type) {
	case int64:
		m := g.min.(int64)
		switch {
		case d > 0 && m < math.MinInt64+d: // every int64 passes (the sum would overflow first)
			threshold = int64(math.MinInt64)
		case d < 0 && m > math.MaxInt64+d: // none does
			threshold = nil
		default:
			threshold = m - d
		}
	case float64:
		threshold = floatThreshold(g.min.(float64), d)
	}
	// A nil current value counts as 0: it passes exactly when 0 + delta does.
	nilPasses := g.passes(addNumber(nil, delta))
	var or bson.A
	if threshold != nil {
		or = append(or, bson.D{{Key: g.field, Value: bson.D{{Key: "$gte", Value: threshold}}}})
	}
	if nilPasses {
		or = append(or, bson.D{{Key: g.field, Value: nil}})
	}
	if len(or) == 0 {
		return nil, false
	}
	return bson.D{{Key: "$or", Value: or}}, true
}

// floatThreshold is the least t with t + delta >= min in float64 arithmetic.
// Rounding makes min - delta off by an ulp at times; since x + delta is monotonic
// in x, stepping to the exact boundary gives a filter that passes exactly the
// values whose sum passes, as the other adapters compute it.
func floatThreshold(min, delta float64) float64 {
	t := min - delta
	for i := 0; i < 64 && t+delta < min; i++ {
		t = math.Nextafter(t, math.Inf(1))
	}
	for i := 0; i < 64; i++ {
		below := math.Nextafter(t, math.Inf(-1))
		if below+delta < min {
			break
		}
		t = below
	}
	return t
}

func (a *Mongo) RemoveByID(ctx context.Context, id any) (Entity, error) {
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	sel, ok := a.selector(id)
	if !ok {
		return nil, invalidID(id)
	}
	if a.serial {
		cur, err := a.findOne(ctx, sel)
		if err != nil {
			return nil, err
		}
		unlock, err := a.lockEntity(ctx, cur[IDField].(int64))
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	raw, err := a.coll.FindOneAndDelete(ctx, sel).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, a.fail("remove", err)
	}
	return a.decode(raw)
}

// Clear deletes every entity but not the id claims, so ids keep counting.
func (a *Mongo) Clear(ctx context.Context) (int, error) {
	if err := a.begin(ctx); err != nil {
		return 0, err
	}
	res, err := a.coll.DeleteMany(ctx, bson.D{})
	if err != nil {
		return 0, a.fail("clear", err)
	}
	return int(res.DeletedCount), nil
}
