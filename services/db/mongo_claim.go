package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Ids and locks are built from the one write every MongoDB-speaking server makes
// atomic, FerretDB 1.x included: an insert checked against a unique index. (FerretDB
// 1.x applies findAndModify and update as a read followed by a whole-document write,
// so two concurrent $inc can lose one; a counter document would hand out one id
// twice.)

// claimIDs reserves k consecutive ids and returns the first. Each claim is a
// document {_id: first, end: last} in the "<model>.ids" collection, and a claim's
// first id is always the previous highest claim's end + 1. Two writers that read
// the same highest claim therefore insert the same _id, the unique _id index lets
// one win, and the other reads again. A writer with a stale read collides the same
// way, because claims are never deleted: not by RemoveByID, not by Clear, which is
// what keeps ids from ever being reused.
//
// A process's own claimers queue on claimMu first, as writers do on the stripes: racing
// claims all but one of which fail cost a round trip each, quadratically many.
func (a *Mongo) claimIDs(ctx context.Context, k int) (int64, error) {
	a.claimMu.Lock()
	defer a.claimMu.Unlock()
	last := options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "end", Value: 1}})
	for {
		var top struct {
			End int64 `bson:"end"`
		}
		err := a.ids.FindOne(ctx, bson.D{}, last).Decode(&top)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, a.fail("claim ids", err)
		}
		first := top.End + 1
		_, err = a.ids.InsertOne(ctx, bson.D{{Key: "_id", Value: first}, {Key: "end", Value: top.End + int64(k)}})
		if err == nil {
			return first, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, a.fail("claim ids", err)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// lockLease bounds how long a crashed holder blocks an entity: past it, a waiter
// removes the stale lock. A holder slower than this loses its exclusivity, so it is
// far above any single update.
const lockLease = 30 * time.Second

// lockEntity takes the cross-process lock on one entity, used in serialized mode
// (servers without atomic single-document updates). A lock is a document
// {_id: ObjectID, key: id, until} in "<model>.locks", whose unique index on key
// admits one holder. Release and stale-lock removal delete by the lock's own
// ObjectID, so they can never remove a lock someone else took meanwhile.
//
// Writers of one process first queue on an in-process stripe lock, so that only one of
// them at a time polls the server: 40 goroutines polling one lock document kept FerretDB's
// SQLite busy with failing inserts and made each update ~20 times slower.
func (a *Mongo) lockEntity(ctx context.Context, id int64) (unlock func(), err error) {
	stripe := &a.stripes[uint64(id)%uint64(len(a.stripes))]
	stripe.Lock()
	release, err := a.lockShared(ctx, id)
	if err != nil {
		stripe.Unlock()
		return nil, err
	}
	return func() {
		release()
		stripe.Unlock()
	}, nil
}

// lockShared takes the lock document itself.
func (a *Mongo) lockShared(ctx context.Context, id int64) (unlock func(), err error) {
	wait := 100 * time.Microsecond
	for {
		oid := bson.NewObjectID()
		now := time.Now()
		_, err := a.locks.InsertOne(ctx, bson.D{{Key: "_id", Value: oid}, {Key: "key", Value: id}, {Key: "until", Value: now.Add(lockLease).UnixMilli()}})
		if err == nil {
			return func() {
				// Released even when ctx is canceled, or the entity stays locked for a lease.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = a.locks.DeleteOne(rctx, bson.D{{Key: "_id", Value: oid}})
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, a.fail("lock", err)
		}
		var held struct {
			ID    bson.ObjectID `bson:"_id"`
			Until int64         `bson:"until"`
		}
		err = a.locks.FindOne(ctx, bson.D{{Key: "key", Value: id}}).Decode(&held)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // released meanwhile
		case err != nil:
			return nil, a.fail("lock", err)
		case held.Until < now.UnixMilli():
			if _, err := a.locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: held.ID}}); err != nil {
				return nil, a.fail("lock", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// fail wraps a server error with the operation and model; errors.Is still sees
// context.Canceled and DeadlineExceeded through it.
// fail wraps a server error with the operation and model; errors.Is still sees
// context.Canceled and DeadlineExceeded through it.
// lockConnect serializes index creation on one collection (see createIndexes). A
// lock older than lockLease belongs to a process that died while connecting.
func (a *Mongo) lockConnect(ctx context.Context) (unlock func(), err error) {
	c := a.d.Collection("faultline.connect")
	key := bson.D{{Key: "_id", Value: a.s.name}}
	for {
		now := time.Now()
		_, err := c.InsertOne(ctx, append(key, bson.E{Key: "until", Value: now.Add(lockLease).UnixMilli()}))
		if err == nil {
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = c.DeleteOne(rctx, key)
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, a.fail("connect lock", err)
		}
		var held struct {
			Until int64 `bson:"until"`
		}
		if err := c.FindOne(ctx, key).Decode(&held); err == nil && held.Until < now.UnixMilli() {
			_, _ = c.DeleteOne(ctx, append(key, bson.E{Key: "until", Value: held.Until}))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (a *Mongo) fail(op string, err error) error {
	return fmt.Errorf("db: mongo %s on %q: %w", op, a.s.name, err)
}
