package db

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// How the MongoDB adapter lays out a document:
//
//   - "_id" is an ObjectID, as moleculer-db's MongoDB adapter keeps it; the entity's
//     "id" is a separate int64 field with a unique index, so entities have the same
//     ids on every adapter.
//   - nil is stored as an absent field, never as BSON null. That is what makes $inc
//     count nil as zero (MongoDB refuses $inc on null), and what lets a unique index
//     exempt nil values as SQL does.
//   - Times are UTC text in the SQLite adapter's fixed-width layout, not BSON dates:
//     a BSON date has millisecond precision and entities carry microseconds. Fixed
//     width keeps text order equal to time order, so comparisons and sorts work.
//   - JSON fields are native BSON (documents, arrays, doubles), so the data reads
//     naturally in a MongoDB shell.

// mongoValue is the BSON form of a canonical value of type t (nil stays nil).
func mongoValue(t FieldType, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		return x.Format(timeText)
	}
	if t == TypeJSON {
		return mongoJSON(v)
	}
	return v
}

func mongoJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		d := make(bson.D, 0, len(x))
		for _, k := range sortedKeys(x) {
			d = append(d, bson.E{Key: k, Value: mongoJSON(x[k])})
		}
		return d
	case []any:
		a := make(bson.A, len(x))
		for i, e := range x {
			a[i] = mongoJSON(e)
		}
		return a
	}
	return v
}

// fromMongo reads a stored field back into its canonical Go value. It accepts the
// shapes other writers may have used for the same field (int32, a BSON date), so a
// collection filled by another tool still reads.
func fromMongo(t FieldType, rv bson.RawValue) (any, error) {
	if rv.Type == 0 || rv.Type == bson.TypeNull || rv.Type == bson.TypeUndefined {
		return nil, nil
	}
	switch t {
	case TypeString:
		if s, ok := rv.StringValueOK(); ok {
			return s, nil
		}
	case TypeInt:
		switch rv.Type {
		case bson.TypeInt64, bson.TypeInt32:
			n, _ := rv.AsInt64OK()
			return n, nil
		case bson.TypeDouble:
			return toInt(rv.Double())
		}
	case TypeFloat:
		if f, ok := rv.AsFloat64OK(); ok {
			return f, nil
		}
	case TypeBool:
		if b, ok := rv.BooleanOK(); ok {
			return b, nil
		}
	case TypeTime:
		if s, ok := rv.StringValueOK(); ok {
			return toTime(s)
		}
		if tm, ok := rv.TimeOK(); ok {
			return canonicalTime(tm)
		}
	case TypeJSON:
		return jsonFromMongo(rv)
	}
	return nil, fmt.Errorf("stored BSON %s is not a %s", rv.Type, t)
}

func jsonFromMongo(rv bson.RawValue) (any, error) {
	switch rv.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeString:
		return rv.StringValue(), nil
	case bson.TypeBoolean:
		return rv.Boolean(), nil
	case bson.TypeDouble, bson.TypeInt32, bson.TypeInt64:
		f, _ := rv.AsFloat64OK()
		return f, nil // JSON numbers are float64, as encoding/json decodes them
	case bson.TypeEmbeddedDocument:
		elems, err := rv.Document().Elements()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(elems))
		for _, e := range elems {
			v, err := jsonFromMongo(e.Value())
			if err != nil {
				return nil, err
			}
			m[e.Key()] = v
		}
		return m, nil
	case bson.TypeArray:
		vals, err := rv.Array().Values()
		if err != nil {
			return nil, err
		}
		s := make([]any, len(vals))
		for i, e := range vals {
			v, err := jsonFromMongo(e)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	}
	return nil, fmt.Errorf("stored BSON %s has no JSON form", rv.Type)
}

// mongoDoc builds the document stored for an entity: ObjectID, id, then the non-nil
// fields in declared order.
func (s *schema) mongoDoc(oid bson.ObjectID, id int64, vals []any) bson.D {
	d := make(bson.D, 0, len(vals)+2)
	d = append(d, bson.E{Key: "_id", Value: oid}, bson.E{Key: IDField, Value: id})
	for i, f := range s.fields {
		if vals[i] != nil {
			d = append(d, bson.E{Key: f.Name, Value: mongoValue(f.Type, vals[i])})
		}
	}
	return d
}

// entityFromMongo decodes a stored document. oidKey, when set, receives the
// ObjectID's hex form (moleculer-db's string _id).
func (s *schema) entityFromMongo(raw bson.Raw, oidKey string) (Entity, error) {
	e := make(Entity, len(s.fields)+2)
	id, err := fromMongo(TypeInt, raw.Lookup(IDField))
	if err != nil || id == nil {
		return nil, fmt.Errorf("db: mongo: model %q: document %v has no int64 id", s.name, raw.Lookup("_id"))
	}
	e[IDField] = id
	for _, f := range s.fields {
		v, err := fromMongo(f.Type, raw.Lookup(f.Name))
		if err != nil {
			return nil, fmt.Errorf("db: mongo: model %q, id %d, field %q: %w", s.name, id, f.Name, err)
		}
		e[f.Name] = v
	}
	if oidKey != "" {
		if oid, ok := raw.Lookup("_id").ObjectIDOK(); ok {
			e[oidKey] = oid.Hex()
		}
	}
	return e, nil
}

var mongoOps = [...]string{opEq: "$eq", opNe: "$ne", opGt: "$gt", opGte: "$gte", opLt: "$lt", opLte: "$lte", opIn: "$in"}

// mongoFilter translates a compiled query and search. Every condition is its own
// $and term, which keeps the translation one-to-one and valid whatever the mix of
// operators on one field. MongoDB's semantics already are ours: {f: null} matches
// absent, $ne matches absent, comparisons never match absent, strings compare
// byte-wise without a collation.
func (s *schema) mongoFilter(p *findPlan) bson.D {
	var and bson.A
	for _, c := range p.conds {
		var arg any
		if c.op == opIn {
			vals := make(bson.A, 0, len(c.vals)+1)
			for _, v := range c.vals {
				vals = append(vals, mongoValue(c.typ, v))
			}
			if c.inNull {
				vals = append(vals, nil)
			}
			arg = vals
		} else {
			arg = mongoValue(c.typ, c.val)
		}
		and = append(and, bson.D{{Key: c.field, Value: bson.D{{Key: mongoOps[c.op], Value: arg}}}})
	}
	if p.search != nil {
		if len(p.search.fields) == 0 {
			and = append(and, bson.D{{Key: IDField, Value: bson.D{{Key: "$in", Value: bson.A{}}}}}) // nothing to search in: no match
		} else {
			pattern := asciiFoldPattern(p.search.term)
			var or bson.A
			for _, f := range p.search.fields {
				or = append(or, bson.D{{Key: f, Value: bson.D{{Key: "$regex", Value: pattern}}}})
			}
			and = append(and, bson.D{{Key: "$or", Value: or}})
		}
	}
	if len(and) == 0 {
		return bson.D{}
	}
	return bson.D{{Key: "$and", Value: and}}
}

// asciiFoldPattern matches term as a substring with only A-Z folded: each ASCII
// letter becomes a two-letter class and everything else is quoted. The "i" option
// would fold more than A-Z (É and é), which the other adapters do not.
func asciiFoldPattern(lowerTerm string) string {
	var b strings.Builder
	for _, r := range lowerTerm {
		if 'a' <= r && r <= 'z' {
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteRune(r - ('a' - 'A'))
			b.WriteByte(']')
			continue
		}
		b.WriteString(regexp.QuoteMeta(string(r)))
	}
	return b.String()
}

func mongoSort(keys []sortKey) bson.D {
	d := make(bson.D, 0, len(keys))
	for _, k := range keys {
		dir := 1
		if k.desc {
			dir = -1
		}
		d = append(d, bson.E{Key: k.field, Value: dir})
	}
	return d
}

// uniqueValuesFilter matches the entities holding e's values of a unique set; ok is
// false when a value is nil (the set does not constrain e).
func (s *schema) uniqueValuesFilter(set []string, e Entity) (bson.D, bool) {
	d := make(bson.D, 0, len(set))
	for _, f := range set {
		if e[f] == nil {
			return nil, false
		}
		d = append(d, bson.E{Key: f, Value: mongoValue(s.types[f], e[f])})
	}
	return d, true
}

// uniqueIndexName names the index of Model.Unique[i]; the number lets a duplicate
// key message be mapped back to its set.
func uniqueIndexName(i int, set []string) string {
	return fmt.Sprintf("unique%d_%s", i, strings.Join(set, "_"))
}

// dupIndexName finds our index name in a duplicate key message: mongod's
// "index: unique0_email dup key", FerretDB's SQLite "index 'coll_hash_unique0_email'".
var dupIndexName = regexp.MustCompile(`(?:index: |_)unique(\d+)_`)

// uniqueSetOf returns the set a duplicate key error names, if its message names one
// of ours (mongod does; FerretDB 1.x names it only for updates).
func (s *schema) uniqueSetOf(msg string) ([]string, bool) {
	all := dupIndexName.FindAllStringSubmatch(msg, -1)
	if all == nil {
		return nil, false
	}
	m := all[len(all)-1] // the index comes after the collection, whose name could look alike
	var i int
	if _, err := fmt.Sscan(m[1], &i); err != nil || i >= len(s.unique) {
		return nil, false
	}
	return slices.Clone(s.unique[i]), true
}
