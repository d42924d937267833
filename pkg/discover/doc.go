// Package discover writes a manifest from a Datadog account, so that a fleet
// of orgs is onboarded without typing UUIDs.
//
// With the keys of the account's parent org, [ReadAccount] lists the orgs
// the parent manages (GET /api/v2/org) and the parent's own connections;
// [Account.ReadOrgs] adds the outgoing connections of managed orgs, read
// with their own keys. [Write] renders the result as a version-1 manifest
// in which every org is labelled from its name (see [BaseLabel]) and
// planning it against the same account finds no changes.
//
// Only the parent and the orgs it manages are written: a connection with
// any other org is left out and counted in a comment, since Datadog
// connects orgs of one account only and ids from elsewhere do not belong in
// the manifest.
package discover
