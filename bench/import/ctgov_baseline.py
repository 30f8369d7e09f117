#!/usr/bin/env python3
"""Baseline for `ctms import ctgov`: the same ClinicalTrials.gov records
loaded by the Python standard library alone (json + sqlite3), studies and
their locations into two tables, in one transaction.

It does what a quick script does and no more: no validation beyond the NCT
id, no time zones, no change detection, no audit trail. It is the floor a
hand-written loader sets, for bench/import/run to compare ctms against.

usage: ctgov_baseline.py DB FILE   (FILE: one JSON study per line, or an array)
"""
import json
import re
import sqlite3
import sys

NCT = re.compile(r"NCT\d{8}")


def records(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        yield from json.loads(text)
    else:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)


def main(db_path, path):
    db = sqlite3.connect(db_path)
    db.executescript("""
        CREATE TABLE IF NOT EXISTS studies (
          id INTEGER PRIMARY KEY, nct_id TEXT UNIQUE NOT NULL, protocol_number TEXT,
          title TEXT, acronym TEXT, phase TEXT, sponsor TEXT, target_enrollment INTEGER,
          start_on TEXT, completion_on TEXT);
        CREATE TABLE IF NOT EXISTS study_sites (
          id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
          site_number TEXT NOT NULL, facility TEXT, city TEXT, state TEXT, country TEXT,
          latitude REAL, longitude REAL, UNIQUE (study_id, site_number));
    """)
    studies = sites = rejected = 0
    with db:  # one transaction
        for rec in records(path):
            ps = rec.get("protocolSection", {}) if isinstance(rec, dict) else {}
            ident = ps.get("identificationModule", {})
            nct = ident.get("nctId", "")
            if not NCT.fullmatch(nct):
                rejected += 1
                continue
            status = ps.get("statusModule", {})
            design = ps.get("designModule", {})
            cur = db.execute(
                "INSERT OR REPLACE INTO studies (nct_id, protocol_number, title, acronym, phase,"
                " sponsor, target_enrollment, start_on, completion_on)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (nct, ident.get("orgStudyIdInfo", {}).get("id"),
                 ident.get("officialTitle") or ident.get("briefTitle"), ident.get("acronym"),
                 "_".join(design.get("phases", [])) or "NA",
                 ps.get("sponsorCollaboratorsModule", {}).get("leadSponsor", {}).get("name"),
                 design.get("enrollmentInfo", {}).get("count"),
                 status.get("startDateStruct", {}).get("date"),
                 status.get("completionDateStruct", {}).get("date")))
            studies += 1
            locations = ps.get("contactsLocationsModule", {}).get("locations", [])
            for i, loc in enumerate(locations, 1):
                geo = loc.get("geoPoint", {})
                db.execute(
                    "INSERT OR REPLACE INTO study_sites (study_id, site_number, facility, city,"
                    " state, country, latitude, longitude) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (cur.lastrowid, f"{i:03d}", loc.get("facility"), loc.get("city"),
                     loc.get("state"), loc.get("country"), geo.get("lat"), geo.get("lon")))
                sites += 1
    db.close()
    print(f"studies: {studies} loaded, {rejected} rejected; study-sites: {sites} loaded")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
