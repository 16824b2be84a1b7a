package store

import (
	"context"
	"fmt"
)

// Blobs is what ReencryptBlobs needs of an attachment blob store
// (pkg/blob.Store).
type Blobs interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
}

// ReencryptBlobs reseals the sealed bytes of every attachment under k's
// primary key, one file at a time (the rows are read 100 at a time, a
// file's bytes only while it is resealed), and returns how many it
// rewrote. A file already under the primary key is left alone, so a run
// cut short is simply run again. Unsealed files (stored while encryption
// was off) stay as they are: their rows say so.
func (s *Store) ReencryptBlobs(ctx context.Context, k Resealer, blobs Blobs) (int, error) {
	n := 0
	last := ""
	for {
		var rows []struct{ ID, BlobKey string }
		if err := s.db.WithContext(ctx).Model(&Attachment{}).Select("id, blob_key").
			Where("id > ? AND sealed = ?", last, true).Order("id").Limit(100).Find(&rows).Error; err != nil {
			return n, err
		}
		if len(rows) == 0 {
			return n, nil
		}
		for _, r := range rows {
			last = r.ID
			data, err := blobs.Get(ctx, r.BlobKey)
			if err != nil {
				return n, fmt.Errorf("attachment %s: %w", r.ID, err)
			}
			out, changed, err := k.Reseal(string(data), attachmentBlobAAD(r.ID))
			if err != nil {
				return n, fmt.Errorf("attachment %s: %w", r.ID, err)
			}
			if !changed {
				continue
			}
			if err := blobs.Put(ctx, r.BlobKey, []byte(out)); err != nil {
				return n, fmt.Errorf("attachment %s: %w", r.ID, err)
			}
			n++
		}
	}
}
