package pkcs11

import (
	"testing"

	p11 "github.com/miekg/pkcs11"
)

func TestPINState(t *testing.T) {
	const init = p11.CKF_USER_PIN_INITIALIZED
	tests := []struct {
		flags uint
		want  string
	}{
		{0, "not initialised"},
		{init, "ok"},
		{init | p11.CKF_USER_PIN_COUNT_LOW, "count low"},
		{init | p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY, "final try"},
		{init | p11.CKF_USER_PIN_LOCKED | p11.CKF_USER_PIN_COUNT_LOW, "locked"},
		{init | p11.CKF_USER_PIN_TO_BE_CHANGED, "to be changed"},
		{init | p11.CKF_USER_PIN_TO_BE_CHANGED | p11.CKF_USER_PIN_FINAL_TRY, "final try"},
	}
	for _, tt := range tests {
		if got := pinState(tt.flags); got != tt.want {
			t.Errorf("pinState(%#x) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}
