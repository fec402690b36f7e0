// Package crud is Faultline's CRUD data mixin, the Go counterpart of moleculer-db's
// DbService mixin. Go has no mixins, so a [Mixin] is a value built from a [Config] (an
// adapter from package db, the public fields, an entity validator, caching) whose
// [Mixin.Actions] and [Mixin.Events] are merged into a service schema, and whose adapter
// methods (FindOne, FindByID, Find, Count, Insert, UpdateByID, RemoveByID) serve the
// service's own handlers:
//
//	m := crud.New(crud.Config{Name: "product", Adapter: store, Fields: []string{"id", "name", "price"}, Cache: true})
//	svc := m.Merge(&broker.Service{Name: "product", Actions: map[string]broker.Action{
//		"reduceStock": {Handler: myHandler}, // uses m.UpdateByID(...)
//	}})
//
// # Actions
//
// The actions and their params follow moleculer-db:
//
//	find   {fields, limit, offset, sort, search, searchFields, query}   → []entity
//	count  {search, searchFields, query}                                → int
//	list   {fields, page, pageSize, sort, search, searchFields, query}   → {rows, total, page, pageSize, totalPages}
//	create {...entity}                                                  → entity
//	insert {entity} | {entities}                                        → entity | []entity
//	get    {id | ids[], fields, mapping}                                → entity | []entity | {id: entity}
//	update {id, ...changes}                                             → entity
//	remove {id}                                                         → removed entity
//
// fields and searchFields are a list or a space- or comma-separated string; sort is a list
// or a string of field names, "-name" descending; query is an object (see db.Query) or its
// JSON text. list's page starts at 1 and pageSize defaults to Config.PageSize (10), capped
// at Config.MaxPageSize (100); find's limit is capped at Config.MaxLimit when set.
//
// Results are filtered to Config.Fields (and to the call's fields param). With Cache set,
// find, count, list and get are cached by the broker's cacher (when the node has one), every
// write broadcasts "cache.clean.<Name>" and [Mixin.Events] subscribes every node to it, so a
// write on one node invalidates every node's cache.
//
// Config.Validate, moleculer-db's entityValidator, checks each entity that create and insert
// store. Unlike moleculer-db it also checks updates: it receives the entity as it would be
// after the update.
//
// # Errors
//
// Every error is an *errs.Error; tests assert these exact names, codes and types:
//
//	not found (get one id, update, remove)    EntityNotFoundError    404  ENTITY_NOT_FOUND  data {id}
//	params schema (the broker's validator)    ValidationError        422  VALIDATION_ERROR  data [{type, message, field, ...}]
//	Config.Validate rejects an entity         ValidationError        422  VALIDATION_ERROR  (or the *errs.Error Validate returned)
//	unknown field, bad value or bad query     ValidationError        422  VALIDATION_ERROR  data [{type: "unknownField"|"invalid", message}]
//	insert without entity or entities         ValidationError        422  VALIDATION_ERROR
//	a db.Model.Unique set already taken       MoleculerClientError   409  DUPLICATE_KEY     data {fields}
//	storage failure                           MoleculerError         500  DB_ERROR          (not retryable)
//
// # Uniqueness
//
// A check-then-write ("no user with this email yet, then insert") is not atomic across
// nodes, and no in-process lock can make it so when the nodes are separate processes on one
// database. Declare the field set unique instead (db.Model.Unique): every adapter enforces
// it in the storage, the write that loses the race fails with DUPLICATE_KEY (match it with
// errors.Is(err, ErrDuplicateKey)), and the handler decides what losing means, for example
// returning the entity that won.
package crud
