package crud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/broker"
	"github.com/faultline/faultline/services/db"
	"github.com/faultline/faultline/services/svc"
)

// Config configures a Mixin.
type Config struct {
	// Name is the service's name: writes broadcast "cache.clean.<Name>".
	Name string
	// Adapter stores the entities. It is connected by whoever created it.
	Adapter db.Adapter
	// Fields are the public fields: results carry only these (include "id" to return it).
	// Empty returns every field.
	Fields []string
	// Validate checks an entity before create and insert store it, and the entity as it
	// would be after an update. Return an *errs.Error (see Invalid) to choose the error;
	// any other error becomes a ValidationError.
	Validate func(e db.Entity) error
	// Cache caches find, count, list and get, and makes writes invalidate the cache on
	// every node.
	Cache bool
	// CacheTTL is the cached results' time to live (0: until invalidated).
	CacheTTL time.Duration
	// PageSize is list's default page size (default 10).
	PageSize int
	// MaxPageSize caps list's page size (default 100).
	MaxPageSize int
	// MaxLimit caps find's limit (0: no cap).
	MaxLimit int
}

// ActionNames are the mixin's actions, in the order Actions documents them.
var ActionNames = []string{"find", "count", "list", "create", "insert", "get", "update", "remove"}

// Mixin provides CRUD actions over an adapter, and the adapter itself to the service's
// other handlers with errors mapped to Moleculer's.
type Mixin struct {
	cfg  Config
	lock *sync.Mutex
}

// New returns a mixin for cfg.
func New(cfg Config) *Mixin {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 10
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 100
	}
	return &Mixin{cfg: cfg, lock: lockFor(cfg.Adapter)}
}

// Config returns the mixin's configuration, defaults applied.
func (m *Mixin) Config() Config { return m.cfg }

// Adapter returns the raw adapter (errors not mapped).
func (m *Mixin) Adapter() db.Adapter { return m.cfg.Adapter }

// locks serialises Exclusive sections per adapter, process-wide, for adapters without an
// ExclusiveLock of their own. It keeps those adapters alive for the life of the process, so
// adapters made per run (the memory stores) carry their lock instead.
var locks sync.Map // db.Adapter -> *sync.Mutex

func lockFor(a db.Adapter) *sync.Mutex {
	if a == nil {
		return &sync.Mutex{}
	}
	if own, ok := a.(interface{ ExclusiveLock() *sync.Mutex }); ok {
		return own.ExclusiveLock()
	}
	l, _ := locks.LoadOrStore(a, &sync.Mutex{})
	return l.(*sync.Mutex)
}

// Exclusive runs fn while no other Exclusive section on the same adapter runs in this
// process: a check-then-write such as "no entity with this key yet, then insert" is atomic
// against every other such section. fn must only use storage: it must not call, emit,
// sleep or otherwise wait on the runtime, because it holds a lock.
func (m *Mixin) Exclusive(fn func() error) error {
	m.lock.Lock()
	defer m.lock.Unlock()
	return fn()
}

// Actions returns the CRUD actions, all of them or only the named ones (see ActionNames).
func (m *Mixin) Actions(names ...string) map[string]broker.Action {
	if len(names) == 0 {
		names = ActionNames
	}
	all := map[string]broker.Action{
		"find": {Params: findSchema(), Cache: m.cacheOpts("fields", "limit", "offset", "sort", "search", "searchFields", "query"),
			Handler: func(ctx *broker.Context) (any, error) {
				p, err := ParseFind(ctx.Params)
				if err != nil {
					return nil, err
				}
				return m.FindEntities(ctx, p)
			}},
		"count": {Params: countSchema(), Cache: m.cacheOpts("search", "searchFields", "query"),
			Handler: func(ctx *broker.Context) (any, error) {
				p, err := ParseFind(ctx.Params)
				if err != nil {
					return nil, err
				}
				return m.CountEntities(ctx, p)
			}},
		"list": {Params: listSchema(), Cache: m.cacheOpts("fields", "page", "pageSize", "sort", "search", "searchFields", "query"),
			Handler: func(ctx *broker.Context) (any, error) {
				p, err := ParseList(ctx.Params)
				if err != nil {
					return nil, err
				}
				return m.ListEntities(ctx, p)
			}},
		"create": {Handler: func(ctx *broker.Context) (any, error) {
			return m.CreateEntity(ctx, ctx, ctx.Params)
		}},
		"insert": {Params: insertSchema(), Handler: func(ctx *broker.Context) (any, error) {
			return m.InsertEntities(ctx, ctx, ctx.Params)
		}},
		"get": {Params: getSchema(), Cache: m.cacheOpts("id", "fields", "mapping"),
			Handler: func(ctx *broker.Context) (any, error) {
				fields, err := stringList("fields", ctx.Params["fields"])
				if err != nil {
					return nil, err
				}
				mapping, _ := ctx.Params["mapping"].(bool)
				return m.GetEntities(ctx, ctx.Params["id"], fields, mapping)
			}},
		"update": {Params: idSchema(), Handler: func(ctx *broker.Context) (any, error) {
			changes := maps.Clone(ctx.Params)
			delete(changes, db.IDField)
			return m.UpdateEntity(ctx, ctx, ctx.Params[db.IDField], changes)
		}},
		"remove": {Params: idSchema(), Handler: func(ctx *broker.Context) (any, error) {
			return m.RemoveEntity(ctx, ctx, ctx.Params[db.IDField])
		}},
	}
	out := make(map[string]broker.Action, len(names))
	for _, n := range names {
		a, ok := all[n]
		if !ok {
			panic(fmt.Sprintf("crud: no action %q (have %v)", n, ActionNames))
		}
		out[n] = a
	}
	return out
}

func (m *Mixin) cacheOpts(keys ...string) *broker.CacheOptions {
	if !m.cfg.Cache {
		return nil
	}
	return &broker.CacheOptions{Keys: keys, TTL: m.cfg.CacheTTL}
}

// Events returns the mixin's event subscriptions: with Cache, "cache.clean.<Name>", which
// drops this node's cached results of the service whenever any node writes.
func (m *Mixin) Events() map[string]broker.Event {
	if !m.cfg.Cache {
		return map[string]broker.Event{}
	}
	return map[string]broker.Event{"cache.clean." + m.cfg.Name: broker.CacheCleanEvent(m.cfg.Name)}
}

// Merge adds the mixin's actions (all, or the named ones) and events to s, keeping any
// action or event s already defines (as a mixin's schema is overridden by the service's),
// and returns s.
func (m *Mixin) Merge(s *broker.Service, actions ...string) *broker.Service {
	if s.Actions == nil {
		s.Actions = map[string]broker.Action{}
	}
	if s.Events == nil {
		s.Events = map[string]broker.Event{}
	}
	for name, a := range m.Actions(actions...) {
		if _, ok := s.Actions[name]; !ok {
			s.Actions[name] = a
		}
	}
	for name, e := range m.Events() {
		if _, ok := s.Events[name]; !ok {
			s.Events[name] = e
		}
	}
	return s
}

// Changed tells the cluster the service's data changed: with Cache, it broadcasts
// "cache.clean.<Name>". Given a *broker.Context it goes through broker.InvalidateCache,
// which also cleans this node's cache at once, so a read on this node right after the write
// is fresh. The CRUD actions call it after every write; custom handlers that write through
// the adapter methods call it themselves.
func (m *Mixin) Changed(c svc.Caller) error {
	if !m.cfg.Cache || c == nil {
		return nil
	}
	if ctx, ok := c.(*broker.Context); ok && ctx != nil {
		return broker.InvalidateCache(ctx, m.cfg.Name)
	}
	return c.Broadcast("cache.clean."+m.cfg.Name, nil)
}

// changed is Changed after a write that has happened: a failed broadcast cannot undo it,
// so it does not fail the action (the cache expires by its TTL, if any).
func (m *Mixin) changed(c svc.Caller) { _ = m.Changed(c) }

// Transform filters an entity to the public fields, narrowed further by fields when given.
func (m *Mixin) Transform(e db.Entity, fields ...string) db.Entity {
	if e == nil {
		return nil
	}
	allowed := m.cfg.Fields
	if len(fields) > 0 {
		if len(allowed) == 0 {
			allowed = fields
		} else {
			var both []string
			for _, f := range fields {
				if slices.Contains(m.cfg.Fields, f) {
					both = append(both, f)
				}
			}
			allowed = both
		}
	}
	if len(allowed) == 0 && len(fields) == 0 {
		return e
	}
	out := make(db.Entity, len(allowed))
	for _, f := range allowed {
		if v, ok := e[f]; ok {
			out[f] = v
		}
	}
	return out
}

func (m *Mixin) transformAll(es []db.Entity, fields []string) []db.Entity {
	out := make([]db.Entity, len(es))
	for i, e := range es {
		out[i] = m.Transform(e, fields...)
	}
	return out
}

// ---- Adapter methods, errors mapped (see StorageError). ----

// FindOne returns the first entity matching q (lowest id), or EntityNotFoundError.
func (m *Mixin) FindOne(ctx context.Context, q db.Query) (db.Entity, error) {
	e, err := m.cfg.Adapter.FindOne(svc.Storage(ctx), q)
	return e, StorageError(err, nil)
}

// FindByID returns the entity with that id, or EntityNotFoundError.
func (m *Mixin) FindByID(ctx context.Context, id any) (db.Entity, error) {
	e, err := m.cfg.Adapter.FindByID(svc.Storage(ctx), id)
	return e, StorageError(err, id)
}

// FindByIDs returns the entities with those ids, in that order, skipping missing ones.
func (m *Mixin) FindByIDs(ctx context.Context, ids []any) ([]db.Entity, error) {
	es, err := m.cfg.Adapter.FindByIDs(svc.Storage(ctx), ids)
	return es, StorageError(err, nil)
}

// Find returns the entities matching p (query, sort, limit, offset, search).
func (m *Mixin) Find(ctx context.Context, p db.FindParams) ([]db.Entity, error) {
	es, err := m.cfg.Adapter.Find(svc.Storage(ctx), p)
	return es, StorageError(err, nil)
}

// Count returns how many entities match q.
func (m *Mixin) Count(ctx context.Context, q db.Query) (int, error) {
	n, err := m.cfg.Adapter.Count(svc.Storage(ctx), q)
	return n, StorageError(err, nil)
}

// Insert stores e as it is (no Validate) and returns it with its id.
func (m *Mixin) Insert(ctx context.Context, e db.Entity) (db.Entity, error) {
	out, err := m.cfg.Adapter.Insert(svc.Storage(ctx), e)
	return out, StorageError(err, nil)
}

// UpdateByID applies u (set, increment, guard) and returns the updated entity; a missing
// entity is EntityNotFoundError, a failed guard db.ErrGuard (test with errors.Is).
func (m *Mixin) UpdateByID(ctx context.Context, id any, u db.Update) (db.Entity, error) {
	e, err := m.cfg.Adapter.UpdateByID(svc.Storage(ctx), id, u)
	if err != nil && isGuard(err) {
		return nil, err
	}
	return e, StorageError(err, id)
}

// RemoveByID removes the entity and returns it, or EntityNotFoundError.
func (m *Mixin) RemoveByID(ctx context.Context, id any) (db.Entity, error) {
	e, err := m.cfg.Adapter.RemoveByID(svc.Storage(ctx), id)
	return e, StorageError(err, id)
}

// ---- Action logic. ----

func (m *Mixin) findParams(sort []string, search string, searchFields []string, q db.Query) db.FindParams {
	return db.FindParams{Query: q, Sort: sort, Search: search, SearchFields: searchFields}
}

// FindEntities is the find action.
func (m *Mixin) FindEntities(ctx context.Context, p FindParams) ([]db.Entity, error) {
	fp := m.findParams(p.Sort, p.Search, p.SearchFields, p.Query)
	fp.Limit, fp.Offset = p.Limit, p.Offset
	if m.cfg.MaxLimit > 0 && (fp.Limit == 0 || fp.Limit > m.cfg.MaxLimit) {
		fp.Limit = m.cfg.MaxLimit
	}
	es, err := m.Find(ctx, fp)
	if err != nil {
		return nil, err
	}
	return m.transformAll(es, p.Fields), nil
}

// CountEntities is the count action.
func (m *Mixin) CountEntities(ctx context.Context, p FindParams) (int, error) {
	if p.Search == "" {
		return m.Count(ctx, p.Query)
	}
	// Search is a Find feature; count what it finds.
	es, err := m.Find(ctx, m.findParams(nil, p.Search, p.SearchFields, p.Query))
	return len(es), err
}

// ListEntities is the list action: one page and the total.
func (m *Mixin) ListEntities(ctx context.Context, p ListParams) (ListResult, error) {
	page, size := p.Page, p.PageSize
	if page < 1 {
		page = 1
	}
	if size <= 0 {
		size = m.cfg.PageSize
	}
	if size > m.cfg.MaxPageSize {
		size = m.cfg.MaxPageSize
	}
	fp := m.findParams(p.Sort, p.Search, p.SearchFields, p.Query)
	fp.Limit, fp.Offset = size, (page-1)*size
	rows, err := m.Find(ctx, fp)
	if err != nil {
		return ListResult{}, err
	}
	total, err := m.CountEntities(ctx, FindParams{Search: p.Search, SearchFields: p.SearchFields, Query: p.Query})
	if err != nil {
		return ListResult{}, err
	}
	return ListResult{Rows: m.transformAll(rows, p.Fields), Total: total, Page: page, PageSize: size,
		TotalPages: (total + size - 1) / size}, nil
}

// CreateEntity is the create action: validate, store, invalidate, return the entity.
func (m *Mixin) CreateEntity(ctx context.Context, c svc.Caller, entity map[string]any) (db.Entity, error) {
	if err := m.validate(entity); err != nil {
		return nil, err
	}
	e, err := m.Insert(ctx, entity)
	if err != nil {
		return nil, err
	}
	m.changed(c)
	return m.Transform(e), nil
}

// InsertEntities is the insert action: params {entity} stores one entity and returns it,
// {entities} stores them all or none and returns them.
func (m *Mixin) InsertEntities(ctx context.Context, c svc.Caller, params map[string]any) (any, error) {
	if raw, ok := params["entities"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			if ms, isMaps := raw.([]map[string]any); isMaps {
				for _, e := range ms {
					list = append(list, e)
				}
			} else {
				return nil, paramError("entities", "array", "The 'entities' field must be an array of objects.", nil)
			}
		}
		es := make([]db.Entity, 0, len(list))
		for i, v := range list {
			e, ok := v.(map[string]any)
			if !ok {
				return nil, paramError(fmt.Sprintf("entities[%d]", i), "object", "Each entity must be an object.", v)
			}
			if err := m.validate(e); err != nil {
				return nil, err
			}
			es = append(es, e)
		}
		out, err := m.cfg.Adapter.InsertMany(svc.Storage(ctx), es)
		if err != nil {
			return nil, StorageError(err, nil)
		}
		m.changed(c)
		return m.transformAll(out, nil), nil
	}
	if raw, ok := params["entity"]; ok && raw != nil {
		e, ok := raw.(map[string]any)
		if !ok {
			return nil, paramError("entity", "object", "The 'entity' field must be an object.", raw)
		}
		return m.CreateEntity(ctx, c, e)
	}
	return nil, paramError("entity", "required", "Either 'entity' or 'entities' is required.", nil)
}

// GetEntities is the get action. One id returns the entity or EntityNotFoundError; a list
// of ids returns the entities found, in that order, or with mapping an object keyed by id.
func (m *Mixin) GetEntities(ctx context.Context, id any, fields []string, mapping bool) (any, error) {
	if ids, ok := id.([]any); ok {
		es, err := m.FindByIDs(ctx, ids)
		if err != nil {
			return nil, err
		}
		es = m.transformAll(es, fields)
		if !mapping {
			return es, nil
		}
		out := make(map[string]db.Entity, len(es))
		for i, e := range es {
			key := fmt.Sprint(e[db.IDField])
			if e[db.IDField] == nil && i < len(ids) {
				key = fmt.Sprint(ids[i])
			}
			out[key] = e
		}
		return out, nil
	}
	e, err := m.FindByID(ctx, id)
	if err != nil {
		return nil, err
	}
	e = m.Transform(e, fields...)
	if mapping {
		return map[string]db.Entity{fmt.Sprint(id): e}, nil
	}
	return e, nil
}

// UpdateEntity is the update action: set changes on the entity with that id.
func (m *Mixin) UpdateEntity(ctx context.Context, c svc.Caller, id any, changes map[string]any) (db.Entity, error) {
	if len(changes) == 0 || m.cfg.Validate != nil {
		cur, err := m.FindByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			return m.Transform(cur), nil
		}
		merged := maps.Clone(cur)
		maps.Copy(merged, changes)
		delete(merged, db.IDField)
		if err := m.validate(merged); err != nil {
			return nil, err
		}
	}
	e, err := m.UpdateByID(ctx, id, db.Update{Set: changes})
	if err != nil {
		return nil, err
	}
	m.changed(c)
	return m.Transform(e), nil
}

// RemoveEntity is the remove action.
func (m *Mixin) RemoveEntity(ctx context.Context, c svc.Caller, id any) (db.Entity, error) {
	e, err := m.RemoveByID(ctx, id)
	if err != nil {
		return nil, err
	}
	m.changed(c)
	return m.Transform(e), nil
}

func (m *Mixin) validate(e db.Entity) error {
	if m.cfg.Validate == nil {
		return nil
	}
	return validationError(m.cfg.Validate(e))
}
