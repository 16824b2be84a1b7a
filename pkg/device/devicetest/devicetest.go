// Package devicetest writes GeoIP databases for tests, in the layout of
// MaxMind's and DB-IP's City files.
package devicetest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/parleychat/parley/pkg/device"
)

// CityDB writes a City database in which the network cidr is at place,
// and returns its path (in a temporary directory of t).
func CityDB(t testing.TB, cidr string, place device.Place) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", IPVersion: 6, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, network, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	names := func(en string) mmdbtype.Map { return mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(en)}} }
	country := names(place.Country)
	country["iso_code"] = mmdbtype.String(place.CountryCode)
	rec := mmdbtype.Map{"country": country, "subdivisions": mmdbtype.Slice{names(place.Region)}, "city": names(place.City)}
	if err := tree.Insert(network, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
