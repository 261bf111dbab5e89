package jobs

import "testing"

// TestKeyedJobIDsNeedTheInstallSecret: with the name-based ids anyone who
// knew an idempotency key could compute the job id (and its image path).
func TestKeyedJobIDsNeedTheInstallSecret(t *testing.T) {
	a, b := []byte("install a secret 0123456789abcdef"), []byte("install b secret 0123456789abcdef")
	id := IDForKey(a, "order-1")
	if id != IDForKey(a, "order-1") {
		t.Error("the same key and secret give different ids")
	}
	for name, other := range map[string]string{
		"name-based id": IDForKey(nil, "order-1"),
		"other install": IDForKey(b, "order-1"),
		"other key":     IDForKey(a, "order-2"),
	} {
		if other == id {
			t.Errorf("%s equals the keyed id %s", name, id)
		}
	}
	if err := ValidateID(id); err != nil {
		t.Errorf("keyed id %q is not a valid job id: %v", id, err)
	}
}
