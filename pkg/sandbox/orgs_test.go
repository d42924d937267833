package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCreatedBy: the user behind an org's keys is the created_by of the
// connections it creates, and the list's included users carry its handle
// and service_account, like the recorded list answer.
func TestCreatedBy(t *testing.T) {
	t.Parallel()
	f := recordedFixture(t)
	f.Orgs[0].User = &FixtureUser{Handle: "orgsync-ci", ServiceAccount: true}
	s := newServer(t, f, Options{})
	id := mustCreate(t, s, srcKeys, sinkID, "logs")
	mustCreate(t, s, sinkKeys, srcID, "metrics")

	w := call(s, sinkKeys, "GET", pathConnections, "")
	require.Equal(t, http.StatusOK, w.Code)
	var list struct {
		Data []struct {
			ID            string
			Relationships struct {
				CreatedBy struct {
					Data struct{ ID, Type string }
				} `json:"created_by"`
			}
		}
		Included []struct {
			Type, ID   string
			Attributes struct {
				Handle         string
				ServiceAccount *bool `json:"service_account"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Len(t, list.Data, 2)
	creators := map[string]string{}
	for _, c := range list.Data {
		assert.Equal(t, "users", c.Relationships.CreatedBy.Data.Type)
		creators[c.ID] = c.Relationships.CreatedBy.Data.ID
	}
	assert.Equal(t, userID(srcID), creators[id], "the source org's user created it")
	users := map[string]struct {
		handle string
		sa     bool
	}{}
	for _, inc := range list.Included {
		if inc.Type == "users" {
			require.NotNil(t, inc.Attributes.ServiceAccount, "included users carry service_account")
			users[inc.ID] = struct {
				handle string
				sa     bool
			}{inc.Attributes.Handle, *inc.Attributes.ServiceAccount}
		}
	}
	assert.Equal(t, "orgsync-ci", users[userID(srcID)].handle)
	assert.True(t, users[userID(srcID)].sa)
	assert.Equal(t, "sandbox-83999dcd@orgsync.invalid", users[userID(sinkID)].handle, "default: a personal user")
	assert.False(t, users[userID(sinkID)].sa)
}

// managedFixture is a parent, two orgs it manages, and an org of its own.
func managedFixture(t *testing.T) *Fixture {
	f := apiFixture(t)
	f.Orgs[0].Permissions = []string{PermissionManageOrgs} // the recorded source: the parent
	for i := range f.Orgs {
		switch f.Orgs[i].ID {
		case sinkID, keylessID:
			f.Orgs[i].Parent = srcID
		case readOnlyID:
			f.Orgs[i].Parent = otherID
		}
	}
	return f
}

func TestManagedOrgs(t *testing.T) {
	t.Parallel()
	s := newServer(t, managedFixture(t), Options{})
	w := call(s, srcKeys, "GET", pathManagedOrgs, "")
	require.Equal(t, http.StatusOK, w.Code)
	const orgAttrs = `"created_at":"2020-01-01T00:00:00.000000+00:00","modified_at":"2020-01-01T00:00:00.000000+00:00","description":"","disabled":false,"sharing":"all_private","url":"https://app.datadoghq.com"}}`
	want := `{"data":{"id":"` + srcID + `","type":"managed_orgs","relationships":{` +
		`"current_org":{"data":{"id":"` + srcID + `","type":"orgs"}},` +
		`"managed_orgs":{"data":[{"id":"` + sinkID + `","type":"orgs"},{"id":"` + keylessID + `","type":"orgs"}]}}},` +
		`"included":[` +
		`{"id":"` + srcID + `","type":"orgs","attributes":{"name":"DD Integration Tests (321813)","public_id":"` + publicID(srcID) + `",` + orgAttrs + `,` +
		`{"id":"` + sinkID + `","type":"orgs","attributes":{"name":"Cross-Org BDD Test Org","public_id":"` + publicID(sinkID) + `",` + orgAttrs + `,` +
		`{"id":"` + keylessID + `","type":"orgs","attributes":{"name":"Sink only","public_id":"` + publicID(keylessID) + `",` + orgAttrs + `]}` + "\n"
	assert.Equal(t, want, w.Body.String())
	assert.NotEqual(t, srcID, publicID(srcID), "a public id is never the UUID")

	tests := []struct {
		name, filter string
		want         []string
	}{
		{"by part of the name, any case", "bdd", []string{sinkID}},
		{"none", "nothing like it", []string{}},
		{"empty filter", "", []string{sinkID, keylessID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(s, srcKeys, "GET", pathManagedOrgs+"?filter%5Bname%5D="+url.QueryEscape(tt.filter), "")
			require.Equal(t, http.StatusOK, w.Code)
			var got struct {
				Data struct {
					Relationships struct {
						ManagedOrgs struct{ Data []struct{ ID string } } `json:"managed_orgs"`
					}
				}
				Included []struct{ ID string }
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			ids := []string{}
			for _, d := range got.Data.Relationships.ManagedOrgs.Data {
				ids = append(ids, d.ID)
			}
			assert.Equal(t, tt.want, ids)
			assert.Len(t, got.Included, len(tt.want)+1, "the current org is always included")
		})
	}
}

func TestManagedOrgsPermissions(t *testing.T) {
	t.Parallel()
	s := newServer(t, managedFixture(t), Options{})
	for _, tt := range []struct {
		name string
		k    keys
		want int
	}{
		{"org_management only", srcKeys, http.StatusOK},
		{"org_connections_write (the default permissions)", otherKeys, http.StatusOK},
		{"org_connections_read only", readOnlyKeys, http.StatusForbidden},
		{"no permission", noPermKeys, http.StatusForbidden},
		{"no keys", noKeys, http.StatusUnauthorized},
	} {
		w := call(s, tt.k, "GET", pathManagedOrgs, "")
		assert.Equal(t, tt.want, w.Code, tt.name)
		if tt.want == http.StatusForbidden {
			assert.Equal(t, `{"errors":["Forbidden"]}`+"\n", w.Body.String())
		}
	}
	w := call(s, otherKeys, "GET", pathManagedOrgs, "")
	assert.Contains(t, w.Body.String(), `"managed_orgs":{"data":[{"id":"`+readOnlyID+`","type":"orgs"}]}`)
	w = call(s, srcKeys, "GET", pathConnections, "")
	assert.Equal(t, http.StatusForbidden, w.Code, "org_management alone does not read connections")
	w = call(s, srcKeys, "POST", pathManagedOrgs, "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
}
