package device

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is an approximate location: a country and, when the database
// knows, a region and city. Names are in English.
type Place struct {
	CountryCode string `json:"country_code,omitempty"`
	Country     string `json:"country,omitempty"`
	Region      string `json:"region,omitempty"`
	City        string `json:"city,omitempty"`
}

// Locator finds where an address is. Nil means no database is configured.
type Locator interface {
	Locate(ip netip.Addr) (Place, bool)
}

// GeoIP is a Locator over a MaxMind DB file (GeoLite2 or GeoIP2 City or
// Country, DB-IP's lite databases, or any file of the same layout).
type GeoIP struct {
	db *maxminddb.Reader
}

// OpenGeoIP opens the database file at path (memory-mapped: lookups read
// no more than they need).
func OpenGeoIP(path string) (*GeoIP, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	return &GeoIP{db: db}, nil
}

// Close releases the file.
func (g *GeoIP) Close() error { return g.db.Close() }

// record is the part of the City/Country layout Parley shows.
type record struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

// Locate looks ip up; false when the database does not know it (private
// and loopback addresses among them).
func (g *GeoIP) Locate(ip netip.Addr) (Place, bool) {
	if !ip.IsValid() {
		return Place{}, false
	}
	var r record
	res := g.db.Lookup(ip.Unmap())
	if !res.Found() || res.Decode(&r) != nil || r.Country.ISOCode == "" {
		return Place{}, false
	}
	p := Place{CountryCode: r.Country.ISOCode, Country: r.Country.Names["en"], City: r.City.Names["en"]}
	if len(r.Subdivisions) > 0 {
		p.Region = r.Subdivisions[0].Names["en"]
	}
	return p, true
}
