// Package api is orgsync's client for the Datadog Org Connections API (v2).
// It owns HTTP and the wire types only: the manifest, plans and apply live
// elsewhere and code against [Client].
//
// # Calls
//
// One [Client] per source org, since the keys decide the org:
// [Client.CurrentUser] checks whose keys they are, [Client.ListConnections]
// reads every page of the org's connections, [Client.ListManagedOrgs] lists
// the orgs a parent org manages, and [Client.CreateConnection],
// [Client.UpdateConnection] and [Client.DeleteConnection] change them.
// [BaseURL] turns a manifest's site into the API's base URL.
//
// # Errors
//
// A non-2xx answer is an [*Error] that holds the server's "errors" list;
// branch on it with [IsNotFound], [IsConflict], [IsUnauthorized],
// [IsForbidden] and [IsRateLimited], never on the text. A 2xx answer that
// is not the expected JSON is a [*DecodeError]. A transport failure is
// returned wrapped, so errors.Is(err, context.DeadlineExceeded) still works.
// No error, and no String of a [Config] or [Client], contains a key.
//
// # Retries
//
// 429, 5xx, timeouts and dropped connections are retried up to
// [Config.MaxRetries] times, POST included (a create that already landed
// answers 409 on the retry). 5xx and transport failures back off
// exponentially with jitter. A 429 waits for the reset the server gives,
// unless that is longer than [Config.MaxRetryWait]. [WithCallInfo] reports
// the attempts of a call. [WithStop] ends the waits and starts no new
// attempt, but lets the requests on the wire finish.
//
// # Rate limits
//
// Datadog limits each org per named bucket (X-RateLimit-Name) to a number of
// requests per fixed window. A Client keeps a pacer per bucket that counts
// the requests of the current window, learns the limit and the window's end
// from the X-RateLimit-* headers, and holds requests back until the next
// window instead of sending them into a 429. After a 429 every request of
// the bucket waits. [Config.Rate] seeds a token bucket, or caps it with
// [Config.RateIsCap]. [Slots] bound the requests in flight across clients;
// a call takes a slot only when its request may go, and [Config.Timeout]
// counts from then: time spent waiting for a slot, a window or a backoff
// never times a request out.
package api
