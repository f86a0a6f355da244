package seal

import (
	"strings"

	"github.com/breakglass/breakglass/token"
)

// CustodianOf turns an enrollment record (verified by the caller) into a
// roster entry: its kind, name, fingerprint, and the p256tag recipient of
// its key-agreement key (none for paper). A header's custodian that is not
// exactly CustodianOf some record of the case is not vouched for by it.
func CustodianOf(r *token.Record) (Custodian, error) {
	cu := Custodian{
		Name:        r.Custodian.Name,
		Kind:        string(r.Token.Kind),
		Fingerprint: strings.ReplaceAll(r.Fingerprint(), " ", ""),
	}
	if r.Token.Kind == token.KindPaper {
		return cu, nil
	}
	pub, err := r.KeyAgreementPublicKey()
	if err != nil {
		return cu, err
	}
	rcp, err := TagRecipient(pub)
	if err != nil {
		return cu, err
	}
	cu.Recipient = rcp.String()
	return cu, nil
}
