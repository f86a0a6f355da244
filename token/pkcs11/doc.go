// Package pkcs11 is the PKCS#11 backend of package token, on
// github.com/miekg/pkcs11: SoftHSM2, OpenSC's opensc-pkcs11.so, Yubico's
// libykcs11.so, or an HSM vendor's module.
//
// # Selecting a token
//
// Tokens are named by RFC 7512 URIs: path attributes token, serial,
// manufacturer, model and slot-id select the token; id selects the
// key-agreement key; the query attributes module-path and pin-source say
// which module to load and where the PIN is ("file:/run/pin" or a path). A
// URI that matches several tokens is an error listing them.
//
// # Keys
//
// [Enroll] generates two EC P-256 key pairs on the token, with CKA_TOKEN,
// CKA_PRIVATE and CKA_SENSITIVE true and CKA_EXTRACTABLE false: one may only
// derive (CKA_DERIVE), the other may only sign (CKA_SIGN). They are labelled
// "breakglass key agreement" and "breakglass signing" and get random 8-byte
// CKA_IDs, which enrollment records keep.
//
// ECDH is CKM_ECDH1_DERIVE with CKD_NULL and the peer's uncompressed point;
// the shared x-coordinate comes back as a short-lived CKO_SECRET_KEY of type
// CKK_GENERIC_SECRET (session object, extractable, not sensitive) that is
// read and destroyed at once. Signatures are CKM_ECDSA over the caller's
// digest, converted from PKCS#11's r‖s to ASN.1 for crypto.Signer.
//
// # PINs
//
// PKCS#11 has no retry count, only flags: CKF_USER_PIN_FINAL_TRY makes the
// backend refuse to log in (a *token.PINError with one try left), and
// CKF_USER_PIN_LOCKED reports a blocked PIN. Tokens need not set either
// (SoftHSM2 never does), so once a wrong PIN was entered, shown by
// CKF_USER_PIN_COUNT_LOW or, for a token that sets no flag at all,
// remembered by breakglass in [StateDir] until a login succeeds, the tries
// left are unknown: the backend sends a PIN only when
// [Options.ConfirmUnknownTries] says so, and otherwise returns a
// *token.PINError with Retries -1 and Tried false.
//
// # Modules
//
// A module is loaded and initialised once per process and finalised when
// its last token is closed, so tests can switch SOFTHSM2_CONF between
// tokens.
//
// # Finding modules
//
// [Discovery] finds modules the way p11-kit does, so that a token that
// works in a browser needs no --module: the *.module files of the p11-kit
// registry (/usr/share/p11-kit/modules for packages, /etc/pkcs11/modules
// for the administrator, ~/.config/pkcs11/modules for the user, a later
// file of the same name replacing an earlier one), whose module: key names
// the library, relative names being looked up in the p11-kit module
// directory (/usr/lib/x86_64-linux-gnu/pkcs11 on Debian). Registrations
// disabled for breakglass (disable-in, enable-in), remote ones, and
// trust-policy modules, which hold certificate anchors and no keys, are
// skipped. Before them come paths given explicitly and those in
// BREAKGLASS_PKCS11_MODULE; BREAKGLASS_P11KIT_DIRS replaces the registry
// directories, or turns the registry off when empty. Each library is
// listed once, however many names lead to it. [ParseModuleConfig] reads a
// .module file as p11-kit does.
//
// Modules that front smart cards (OpenSC, ykcs11) describe each slot by
// its PC/SC reader's name; [Slot.OnReader] ties such a token to the PIV
// card in that reader, so a listing can show one physical card once.
// Listing tokens ([Tokens]) never logs in.
package pkcs11
