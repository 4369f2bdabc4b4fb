"""Core tables from the fhir layer: inpatient stays, their diagnoses and procedures, comorbidity.

Everything here is portable Ibis (DuckDB and Spark run the same expressions). The two small
hierarchies (Organization.partOf, Location.partOf) are walked in Python and joined back as
in-memory tables: they hold hundreds of rows, and a recursive walk is not portable SQL.

Definitions (see docs/measures/core-tables.md):
- an inpatient stay is a finished Encounter of class IMP, ACUTE or NONAC with start and end;
- site = the root of the serviceProvider's Organization.partOf chain; department = the
  serviceProvider when it is not the root, else the serviceType code; unit = the ward-level
  Location (physicalType ``wa``) found by walking partOf up from the stay's last location;
- unit exposure (``core__stay_unit``): every ward-level unit a stay passed through, with its
  first and last time there and a flag for the discharge unit; unit-level results count a stay
  against each of them (ICU mortality's denominator is every stay with ICU time);
- attending = the participant of type ATND with the latest period start (then position);
- LOS (days) = discharge date - admission date (a same-day stay has LOS 0);
- principal diagnosis = Encounter.diagnosis with rank 1, else the first with use DD or billing,
  else the linked Claim's diagnosis with sequence 1;
- an acute stay is one of class IMP or ACUTE (NONAC = non-acute inpatient care: rehabilitation,
  psychiatric or long-term units);
- discharge disposition: the HL7 ``discharge-disposition`` code and the NUBC patient discharge
  status (UB-04 FL17) are both read; ``disposition_category`` comes from the NUBC code when the
  Encounter has one (it is the finer code set), else from the HL7 code, by each code's
  definition (``cmo.terminology.dispositions``; HL7 ``hosp`` is *hospice*, never a transfer);
- transfer chain (CMS 30-day mortality and Hospital-Wide Readmission methodology: a transfer is
  an admission to another acute care hospital on the same or the next day): an acute stay and
  an acute inpatient admission of the same patient at another site starting within 24 h of its
  discharge are one chain (episode), whatever the first stay's disposition; ``chain_id`` is the
  first stay's id. ``transfer_out`` marks a stay that continues in a chain or was discharged to
  another acute hospital (HL7 ``other-hcf``; NUBC 02, 05, 66, 82, 85, 94);
- vital status: ``died_in_hospital`` when the disposition says expired (HL7 ``exp``, NUBC 20,
  40-42), or the patient's death date is the discharge date and the disposition does not say
  the patient left alive; ``vital_status_conflict`` when the record contradicts itself (a death
  date before admission; a death before the discharge date with a live disposition; an expired
  disposition with a death date outside the stay): such stays are excluded from the measures
  with reason ``vital_status_inconsistent`` and listed in ``quality__data_issue``;
- operating surgeon = the performer of the stay's principal procedure (UB-04 FL74: the Claim's
  procedure with sequence 1; else the stay's earliest performed Procedure with a performer).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd
from ibis import _

from cmo import terminology

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from cmo.warehouse import Warehouse

INPATIENT_CLASSES = ("IMP", "ACUTE", "NONAC")
ACUTE_CLASSES = ("IMP", "ACUTE")
EMERGENT_PRIORITIES = ("EM", "UR")
TRANSFER_GAP_SECONDS = 24 * 3600
LOOKBACK_DAYS = 365  # comorbidity lookback when a diagnosis has no POA indicator
# POA indicators that make a secondary diagnosis a comorbidity (CMS POA reporting guidelines:
# Y = present, W = clinically undetermined; 1 = exempt from POA reporting, read as Y).
POA_COMORBID = ("y", "w", "1")
WARD = "wa"

# Minimal schemas of the fhir tables read here, so a warehouse without (say) Claims still builds.
FHIR_SCHEMAS: dict[str, dict[str, str]] = {
    "fhir__patient": {
        "id": "string",
        "gender": "string",
        "birth_date_date": "date",
        "deceased_date_time_ts": "timestamp",
        "deceased_date_time_date": "date",
    },
    "fhir__encounter": {
        "id": "string",
        "status": "string",
        "class_code": "string",
        "priority_code": "string",
        "subject_id": "string",
        "period_start_ts": "timestamp",
        "period_end_ts": "timestamp",
        "period_start_date": "date",
        "period_end_date": "date",
        "admit_source_code": "string",
        "discharge_disposition_code": "string",
        "service_provider_id": "string",
        "service_type_code": "string",
    },
    "fhir__encounter_diagnosis": {
        "encounter_id": "string",
        "pos": "int64",
        "condition_id": "string",
        "use_code": "string",
        "rank": "int64",
    },
    "fhir__encounter_participant": {
        "encounter_id": "string",
        "pos": "int64",
        "type_code": "string",
        "individual_id": "string",
        "period_start_ts": "timestamp",
    },
    "fhir__encounter_location": {
        "encounter_id": "string",
        "pos": "int64",
        "location_id": "string",
        "period_start_ts": "timestamp",
        "period_end_ts": "timestamp",
    },
    "fhir__encounter_discharge_disposition": {
        "encounter_id": "string",
        "pos": "int64",
        "code": "string",
        "system": "string",
    },
    "fhir__condition": {"id": "string", "code": "string", "encounter_id": "string"},
    "fhir__procedure": {
        "id": "string",
        "status": "string",
        "code": "string",
        "encounter_id": "string",
        "performed_date_time_ts": "timestamp",
        "performed_period_start_ts": "timestamp",
    },
    "fhir__procedure_performer": {"procedure_id": "string", "pos": "int64", "actor_id": "string"},
    "fhir__organization": {"id": "string", "name": "string", "part_of_id": "string"},
    "fhir__location": {
        "id": "string",
        "name": "string",
        "physical_type_code": "string",
        "part_of_id": "string",
        "managing_organization_id": "string",
    },
    "fhir__practitioner": {
        "id": "string",
        "family": "string",
        "given": "string",
        "active": "boolean",
        "npi": "string",  # identifier[system=http://hl7.org/fhir/sid/us-npi].value
        "birth_date_date": "date",
        "qualification_display": "string",
    },
    "fhir__practitioner_role": {
        "id": "string",
        "active": "boolean",
        "practitioner_id": "string",
        "organization_id": "string",
        "specialty_display": "string",
        "period_start_date": "date",
        "period_end_date": "date",
    },
    "fhir__claim": {"id": "string", "encounter_id": "string"},
    "fhir__claim_diagnosis": {
        "claim_id": "string",
        "sequence": "int64",
        "code": "string",
        "on_admission_code": "string",
    },
    "fhir__claim_procedure": {"claim_id": "string", "sequence": "int64", "code": "string"},
}


def source(wh: Warehouse, name: str) -> ir.Table:
    """A fhir table narrowed to the columns read here; an empty one when it was never ingested."""
    schema = FHIR_SCHEMAS[name]
    if not wh.exists(name):
        return _empty(wh, schema)
    t = wh.table(name)
    cols = {}
    for col, typ in schema.items():
        cols[col] = t[col].cast(typ) if col in t.columns else ibis.null(typ)
    return t.select(**cols)


def _empty(wh: Warehouse, schema: dict[str, str]) -> ir.Table:
    frame = pd.DataFrame({c: pd.Series([], dtype="object") for c in schema})
    mem = ibis.memtable(frame, schema=ibis.schema(schema))
    return mem


def memtable(frame: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
    return ibis.memtable(frame, schema=ibis.schema(schema))


def norm_code(col: ir.StringValue) -> ir.StringValue:
    """Undotted, upper-case, trimmed code (ICD-10 ``I50.9`` -> ``I509``)."""
    return col.replace(".", "").strip().upper()


# -- hierarchies walked in Python ---------------------------------------------------------------
def _walk_up(parent: dict[str, str | None], start: str, stop: Any = None) -> str:
    """Follow parent links from ``start`` to the root (or to the first node where ``stop``)."""
    node, seen = start, set()
    while True:
        if stop is not None and stop(node):
            return node
        up = parent.get(node)
        if not up or up in seen or up not in parent:
            return node if stop is None else start
        seen.add(node)
        node = up


def org_roots(wh: Warehouse) -> pd.DataFrame:
    """organization id -> its root (site) id and the root's name."""
    orgs = source(wh, "fhir__organization").to_pandas()
    parent = dict(zip(orgs["id"], orgs["part_of_id"], strict=True))
    names = dict(zip(orgs["id"], orgs["name"], strict=True))
    roots = [_walk_up(parent, o) for o in orgs["id"]]
    return pd.DataFrame(
        {"org_id": orgs["id"], "root_id": roots, "root_name": [names.get(r) for r in roots]}
    )


def location_wards(wh: Warehouse) -> pd.DataFrame:
    """location id -> the ward (physicalType ``wa``) at or above it, else the location itself."""
    locs = source(wh, "fhir__location").to_pandas()
    parent = dict(zip(locs["id"], locs["part_of_id"], strict=True))
    kind = dict(zip(locs["id"], locs["physical_type_code"], strict=True))
    wards = [_walk_up(parent, loc, stop=lambda n: kind.get(n) == WARD) for loc in locs["id"]]
    return pd.DataFrame({"location_id": locs["id"], "ward_id": wards})


def _wards(wh: Warehouse) -> ir.Table:
    return memtable(location_wards(wh), {"location_id": "string", "ward_id": "string"})


# -- stays ---------------------------------------------------------------------------------------
def data_end(wh: Warehouse, as_of: date | None) -> date:
    """The latest encounter end in the warehouse, unless ``as_of`` is given."""
    if as_of is not None:
        return as_of
    enc = source(wh, "fhir__encounter")
    value = enc.period_end_date.max().execute()
    if value is None or pd.isna(value):
        return date.today()
    return pd.Timestamp(value).date()


def inpatient_encounters(wh: Warehouse) -> ir.Table:
    enc = source(wh, "fhir__encounter")
    return enc.filter(
        enc.class_code.isin(INPATIENT_CLASSES)
        & (enc.status == "finished")
        & enc.period_start_ts.notnull()
        & enc.period_end_ts.notnull()
    )


def code_map(*raw_codes: ir.StringColumn) -> tuple[ir.Table, list[str]]:
    """(raw, norm, usable, comorbid) for every distinct raw code: ``norm`` = ``norm_code(raw)``,
    ``usable`` = the normalised code is neither null nor empty, ``comorbid`` = it falls in a
    comorbidity category (:func:`comorbid_codes`); and the list of those comorbid codes.

    The code vocabulary is tiny (72 distinct codes over 4M Condition rows at 1M stays), so
    normalising it once and joining the map back is far cheaper than evaluating replace/trim/upper
    per row, which DuckDB did 4+ times per row (filter pushdown copies the expression into the
    not-null and not-empty tests: 2.4 s per filter at 1M stays). The distinct codes are fetched
    and joined back as an in-memory table: DuckDB cannot estimate a distinct's size, and took
    the map for the large side of a join (a 4M-row hash table on 72 keys, ~0.6 s).
    """
    raw = ibis.union(*[c.name("raw").as_table() for c in raw_codes], distinct=True)
    frame = raw.filter(raw.raw.notnull()).to_pandas()
    mem = memtable(frame, {"raw": "string"})
    code = norm_code(mem.raw)
    mapped = mem.select(
        "raw", norm=code, usable=(code.notnull() & (code != "")).fill_null(False)
    ).to_pandas()
    mapped["comorbid"] = comorbid_codes(mapped["norm"])
    table = memtable(
        mapped, {"raw": "string", "norm": "string", "usable": "boolean", "comorbid": "boolean"}
    )
    return table, sorted(set(mapped.loc[mapped["comorbid"], "norm"]))


def comorbid_codes(codes: pd.Series) -> pd.Series:
    """Per undotted code: does it fall in a Charlson or Elixhauser category (Quan 2005 map,
    ``cmo.terminology.comorbidity_map``)? The code starts with one of the map's prefixes."""
    prefixes = {prefix for _flag, prefix in _category_prefixes()}
    lengths = sorted({len(p) for p in prefixes})

    def hit(code: object) -> bool:
        return isinstance(code, str) and any(code[:n] in prefixes for n in lengths)

    return codes.map(hit).astype(bool)


def _coded(t: ir.Table, codes: ir.Table, col: str = "code") -> ir.Table:
    """``t`` with its raw ``col`` replaced by the normalised code, plus the map's ``usable``.

    A left join, so rows with a null raw code keep a null code, as ``norm_code`` would give.
    """
    j = t.left_join(codes, t[col] == codes.raw)
    keep = [c for c in t.columns if c != col]
    return j.select(
        *keep,
        code=j.norm,
        usable=j.usable.fill_null(False),
        comorbid=j.comorbid.fill_null(False),
    )


def stay_diagnoses(wh: Warehouse, stays: ir.Table) -> ir.Table:
    """Every ICD-10 diagnosis of a stay: (stay_id, code, is_principal, poa).

    The distinct (stay, code) rows come from Encounter.diagnosis -> Condition, from Conditions
    that point at the encounter, and from the linked Claim's diagnoses; null and empty codes are
    dropped. The principal diagnosis follows ``_principal``; ``poa`` is the lowest
    (lower-cased) present-on-admission code of the Claim's rows for the code.
    """
    ids = stays.select(stay_id=stays.id)
    ed = source(wh, "fhir__encounter_diagnosis")
    cond = source(wh, "fhir__condition")
    claim = source(wh, "fhir__claim")
    cdx = source(wh, "fhir__claim_diagnosis")
    codes, comorbid = code_map(cond.code, cdx.code)
    cond = _coded(cond, codes)
    enc_dx = ed.join(cond, ed.condition_id == cond.id).select(
        stay_id=ed.encounter_id,
        code=cond.code,
        usable=cond.usable,
        rank=ed["rank"],
        use_code=ed.use_code,
        pos=ed.pos,
        cond_encounter_id=cond.encounter_id,
    )
    enc_dx = enc_dx.join(ids, "stay_id")
    # Conditions that point at the encounter without being listed in Encounter.diagnosis.
    cond_dx = cond.join(ids, cond.encounter_id == ids.stay_id).select(
        stay_id=ids.stay_id, code=cond.code, usable=cond.usable
    )
    claim_dx = _coded(cdx, codes).join(claim, _.claim_id == claim.id)
    claim_dx = claim_dx.join(ids, claim_dx.encounter_id == ids.stay_id).select(
        stay_id=ids.stay_id,
        code=claim_dx.code,
        usable=claim_dx.usable,
        comorbid=claim_dx.comorbid,
        sequence=claim_dx.sequence,
        poa=claim_dx.on_admission_code.lower(),
    )
    principal = _principal(enc_dx, claim_dx)
    # An Encounter.diagnosis row whose Condition points at the same encounter is already a
    # cond_dx row; leaving it out halves the rows the distinct below hashes (8M -> 4M at 1M
    # stays) without changing the distinct set.
    listed_elsewhere = enc_dx.filter(
        enc_dx.cond_encounter_id.isnull() | (enc_dx.cond_encounter_id != enc_dx.stay_id)
    )
    no_poa = ibis.null("string")
    rows = ibis.union(
        cond_dx.select("stay_id", "code", "usable", is_principal=False, poa=no_poa),
        listed_elsewhere.select("stay_id", "code", "usable", is_principal=False, poa=no_poa),
        claim_dx.select("stay_id", "code", "usable", is_principal=False, poa="poa"),
        # The principal diagnosis is always one of the stay's own codes (Encounter.diagnosis
        # or Claim rows above), so a row for it only sets the flag; an unusable one is dropped.
        principal.select(
            "stay_id",
            code=principal.principal_dx,
            usable=principal.principal_dx.notnull() & (principal.principal_dx != ""),
            is_principal=True,
            poa=no_poa,
        ),
        distinct=False,
    ).filter(_.usable)
    # One aggregate gives the distinct (stay, code) rows with their flag and POA, instead of a
    # distinct then two joins over the 3.9M result (~1 s of DuckDB time at 1M stays).
    out = rows.group_by(["stay_id", "code"]).aggregate(
        is_principal=rows.is_principal.any(), poa=rows.poa.min()
    )
    return _prior_12m(wh, out, cond, claim_dx, comorbid)


def _prior_12m(
    wh: Warehouse, dx: ir.Table, cond: ir.Table, claim_dx: ir.Table, comorbid: list[str]
) -> ir.Table:
    """``dx`` with ``prior_12m``: a secondary diagnosis without a POA indicator, in a
    comorbidity category (``comorbid``: the normalised codes of :func:`comorbid_codes`), that
    was also coded in an encounter of the patient (any class) starting 1-365 days before the
    admission.

    The comorbidity step counts such a diagnosis (it pre-existed) and leaves out the other
    POA-less ones: a diagnosis first coded during the stay may be a complication. Nothing else
    reads the flag, so the codes outside every category are not looked up: on both sides of
    the (patient, code) join they were work without a reader (0.2 s at 1M stays).
    """
    enc = source(wh, "fhir__encounter")
    enc = enc.filter(enc.status.isnull() | ~enc.status.isin(("cancelled", "entered-in-error")))
    when = enc.select(e_id=enc.id, e_patient=enc.subject_id, e_day=enc.period_start_date)
    # UNION ALL: a (encounter, code) coded twice only repeats pairs, and ``prior`` below is
    # distinct anyway; hashing the 3.9M rows for a distinct cost ~1 s at 1M stays.
    coded = ibis.union(
        cond.filter(cond.usable & cond.comorbid).select(h_enc=cond.encounter_id, h_code=cond.code),
        claim_dx.filter(claim_dx.comorbid).select(h_enc=claim_dx.stay_id, h_code=claim_dx.code),
        distinct=False,
    )
    history = coded.join(when, coded.h_enc == when.e_id).select("h_code", "e_patient", "e_day")
    todo = dx.filter(~dx.is_principal & dx.poa.isnull() & dx.code.isin(comorbid)).select(
        "stay_id", "code"
    )
    todo = todo.join(when, todo.stay_id == when.e_id).select(
        "stay_id", "code", p_patient=when.e_patient, p_admit=when.e_day
    )
    pairs = todo.join(
        history, (todo.p_patient == history.e_patient) & (todo.code == history.h_code)
    )
    days = pairs.p_admit.delta(pairs.e_day, unit="day")
    prior = (
        pairs.filter((days >= 1) & (days <= LOOKBACK_DAYS))
        .select(q_stay=_.stay_id, q_code=_.code)
        .distinct()
    )
    t = dx.left_join(prior, (dx.stay_id == prior.q_stay) & (dx.code == prior.q_code))
    return t.mutate(prior_12m=t.q_stay.notnull()).drop("q_stay", "q_code")


def _principal(enc_dx: ir.Table, claim_dx: ir.Table) -> ir.Table:
    """Principal diagnosis per stay: rank 1, else DD/billing, else the Claim's sequence 1.

    Stays with none of the three may come out with a null ``principal_dx`` instead of no row;
    callers left-join this table, where the two are the same.
    """
    # Both Encounter.diagnosis picks in one pass over the rows (filtered aggregates), instead of
    # two group-bys plus a distinct union of their keys (~1 s of DuckDB time at 1M stays).
    is_billing = enc_dx.use_code.isin(("DD", "billing"))
    r12 = enc_dx.group_by("stay_id").aggregate(
        dx1=enc_dx.code.argmin(enc_dx.pos, where=enc_dx["rank"] == 1),
        dx2=enc_dx.code.argmin(
            ibis.coalesce(enc_dx["rank"], 999) * 1000 + enc_dx.pos, where=is_billing
        ),
    )
    seq1 = claim_dx.filter(claim_dx.sequence == 1)
    r3 = seq1.group_by("stay_id").aggregate(dx3=seq1.code.min())
    joined = r12.outer_join(r3, "stay_id")
    return joined.select(
        stay_id=ibis.coalesce(joined.stay_id, joined.stay_id_right),
        principal_dx=ibis.coalesce(_.dx1, _.dx2, _.dx3),
        principal_dx_source=ibis.cases(
            (_.dx1.notnull(), "encounter_rank1"),
            (_.dx2.notnull(), "encounter_billing"),
            (_.dx3.notnull(), "claim_sequence1"),
        ),
    )


def stay_procedures(wh: Warehouse, stays: ir.Table) -> ir.Table:
    """ICD-10-PCS (or other) procedure codes per stay, from Procedure and Claim.procedure."""
    ids = stays.select(stay_id=stays.id)
    proc = source(wh, "fhir__procedure")
    proc = proc.filter(proc.status.isnull() | (proc.status != "entered-in-error"))
    p1 = proc.join(ids, proc.encounter_id == ids.stay_id).select(
        stay_id=ids.stay_id, code=norm_code(proc.code)
    )
    claim = source(wh, "fhir__claim")
    cp = source(wh, "fhir__claim_procedure")
    p2 = (
        cp.join(claim, cp.claim_id == claim.id)
        .join(ids, claim.encounter_id == ids.stay_id)
        .select(stay_id=ids.stay_id, code=norm_code(cp.code))
    )
    return ibis.union(p1, p2, distinct=True).filter(_.code.notnull() & (_.code != ""))


def build_stays(wh: Warehouse, diagnoses: ir.Table, procedures: ir.Table) -> ir.Table:
    """One row per finished inpatient stay, with attribution, demographics and chain fields."""
    enc = inpatient_encounters(wh)
    pat = source(wh, "fhir__patient")
    roots = memtable(
        org_roots(wh), {"org_id": "string", "root_id": "string", "root_name": "string"}
    )
    wards = _wards(wh)

    part = source(wh, "fhir__encounter_participant")
    atnd = part.filter((part.type_code == "ATND") & part.individual_id.notnull())
    attending = atnd.group_by("encounter_id").aggregate(
        attending_id=atnd.individual_id.argmax(
            atnd.period_start_ts.epoch_seconds().fill_null(0) * 1000 + atnd.pos
        )
    )
    eloc = source(wh, "fhir__encounter_location")
    last_loc = eloc.group_by("encounter_id").aggregate(
        location_id=eloc.location_id.argmax(
            eloc.period_start_ts.epoch_seconds().fill_null(0) * 1000 + eloc.pos
        )
    )
    last_loc = last_loc.left_join(wards, "location_id").select(
        "encounter_id", unit_id=ibis.coalesce(_.ward_id, _.location_id)
    )
    disposition = _dispositions(wh)
    # One pass over the diagnoses per stay (two group-bys read the 3.9M rows twice at 1M
    # stays); the POA-less count feeds quality__data_issue's missing-POA share per site.
    secondary = ~diagnoses.is_principal
    coded = diagnoses.group_by("stay_id").aggregate(
        principal_dx=diagnoses.code.min(where=diagnoses.is_principal),
        secondary_dx=diagnoses.code.collect(where=secondary),
        # A filtered count is an int64; a sum of int64 is DuckDB's 128-bit HUGEINT.
        secondary_dx_no_poa=diagnoses.count(where=secondary & diagnoses.poa.isnull()),
    )
    procs = procedures.group_by("stay_id").aggregate(procedures=_.code.collect())

    # Encounter-level fields and the transfer chains first: the chain windows then sort narrow
    # rows instead of the wide joined ones (lists included).
    e = enc.left_join(roots, enc.service_provider_id == roots.org_id)
    # The patient's fields join here, on the encounters: joined after the chains, DuckDB
    # misjudged the chained rows as the smaller side and hashed all 1M wide rows (~1.1 s).
    e = e.left_join(pat, e.subject_id == pat.id)
    e = e.select(
        stay_id=e.id,
        patient_id=e.subject_id,
        birth_date=e.birth_date_date,
        sex=e.gender,
        death_date=e.deceased_date_time_date,
        site_id=ibis.coalesce(e.root_id, e.service_provider_id),
        department_id=ibis.cases(
            (e.root_id.notnull() & (e.service_provider_id != e.root_id), e.service_provider_id),
            else_=e.service_type_code,
        ),
        admit_ts=e.period_start_ts,
        discharge_ts=e.period_end_ts,
        admit_date=e.period_start_date,
        discharge_date=e.period_end_date,
        priority_code=e.priority_code,
        admit_source=e.admit_source_code,
        acute=e.class_code.isin(ACUTE_CLASSES),
        _disposition_first=e.discharge_disposition_code,
    )
    e = e.left_join(disposition, e.stay_id == disposition.encounter_id)
    e = e.mutate(
        # coding[0] is the HL7 code when the export did not say which system it came from.
        discharge_disposition=ibis.coalesce(e.hl7_code, e._disposition_first),
    ).drop("encounter_id", "hl7_code", "_disposition_first")
    e = _disposition_meaning(e)
    # The close pairs read the encounters themselves: read off ``e``, its joins (patient,
    # dispositions) ran once more for each side of their self-join.
    narrow = enc.select(
        stay_id=enc.id,
        patient_id=enc.subject_id,
        admit_ts=enc.period_start_ts,
        discharge_ts=enc.period_end_ts,
        acute=enc.class_code.isin(ACUTE_CLASSES),
    )
    e = add_chains(e, candidates=narrow)

    s = e.left_join(attending, e.stay_id == attending.encounter_id)
    s = s.left_join(last_loc, s.stay_id == last_loc.encounter_id)
    sg = surgeons(wh)
    s = s.left_join(sg, s.stay_id == sg.surgeon_stay_id)
    s = s.left_join(coded, s.stay_id == coded.stay_id)
    s = s.left_join(procs, s.stay_id == procs.stay_id)
    adm, dis, bd = s.admit_date, s.discharge_date, s.birth_date
    age = (
        adm.year()
        - bd.year()
        - ((adm.month() * 100 + adm.day()) < (bd.month() * 100 + bd.day())).cast("int64")
    )
    death_date = s.death_date
    died, conflict = vital_status(s.disposition_category, s.live_disposition, death_date, adm, dis)
    return s.select(
        "stay_id",
        "patient_id",
        "site_id",
        "department_id",
        unit_id=s.unit_id,
        attending_id=s.attending_id,
        surgeon_id=s.surgeon_id,
        admit_ts=s.admit_ts,
        discharge_ts=s.discharge_ts,
        admit_date=adm,
        discharge_date=dis,
        los_days=dis.delta(adm, unit="day").cast("int64"),
        priority_code=s.priority_code,
        priority=ibis.cases(
            (s.priority_code.isin(EMERGENT_PRIORITIES), "emergency"),
            (s.priority_code == "EL", "elective"),
            else_="unknown",
        ),
        admit_source=s.admit_source,
        discharge_disposition=s.discharge_disposition,
        discharge_nubc=s.discharge_nubc,
        disposition_category=s.disposition_category,
        acute=s.acute,
        age=age.cast("int64"),
        sex=s.sex,
        principal_dx=s.principal_dx,
        # Null without secondary diagnoses on both engines (Spark's filtered collect_list
        # gives an empty list where DuckDB's array_agg gives null).
        secondary_dx=ibis.cases(
            (s.secondary_dx.length() > 0, s.secondary_dx), else_=ibis.null("array<string>")
        ),
        secondary_dx_no_poa=s.secondary_dx_no_poa.fill_null(0),
        procedures=s.procedures,
        died_in_hospital=died,
        vital_status_conflict=conflict,
        death_date=death_date,
        chain_id=s.chain_id,
        chain_seq=s.chain_seq,
        chain_size=s.chain_size,
        chain_last=s.chain_last,
        transfer_in=s.transfer_in,
        transfer_out=s.transfer_out,
    )


def vital_status(
    category: ir.StringValue,
    live: ir.BooleanValue,
    death: ir.DateValue,
    admit: ir.DateValue,
    discharge: ir.DateValue,
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(died in hospital, vital status conflict) from the disposition and the death date.

    Died: the disposition says expired, or the death date is the discharge date and the
    disposition does not say the patient left alive. Conflict: a death date before admission,
    a death before the discharge date with a live disposition, or an expired disposition with
    a death date outside the stay.
    """
    expired = (category == terminology.EXPIRED).fill_null(False)
    said_alive = live.fill_null(False)
    on_discharge = (death == discharge).fill_null(False)
    died = expired | (on_discharge & ~said_alive)
    conflict = (
        (death < admit).fill_null(False)
        | (said_alive & (death < discharge).fill_null(False))
        | (expired & ((death < admit) | (death > discharge)).fill_null(False))
    )
    return died, conflict


def _disposition_codes() -> ir.Table:
    rows = [
        (system, code, category, live, nubc)
        for system, code, _d, category, live, nubc in terminology.dispositions()
    ]
    frame = pd.DataFrame(rows, columns=["system", "code", "category", "live", "nubc"])
    frame["live"] = frame["live"].astype("object")
    return memtable(
        frame,
        {
            "system": "string",
            "code": "string",
            "category": "string",
            "live": "boolean",
            "nubc": "string",
        },
    )


def _dispositions(wh: Warehouse) -> ir.Table:
    """Per encounter: its HL7 discharge-disposition code and NUBC discharge status (the first
    coding of each system)."""
    d = source(wh, "fhir__encounter_discharge_disposition")
    is_nubc = d.system.lower().contains("nubc").fill_null(False)
    is_hl7 = (d.system == terminology.HL7_DISPOSITION).fill_null(False)
    return d.group_by("encounter_id").aggregate(
        hl7_code=d.code.argmin(d.pos, where=is_hl7),
        discharge_nubc=d.code.argmin(d.pos, where=is_nubc),
    )


def _disposition_meaning(e: ir.Table) -> ir.Table:
    """``disposition_category`` and ``live_disposition`` (null: the code does not say) of each
    stay: the NUBC code's when it is known, else the HL7 code's, else ``unknown``."""
    codes = _disposition_codes()
    hl7 = codes.filter(codes.system == "hl7").select(
        _h_code="code", _h_cat="category", _h_live="live"
    )
    nubc = codes.filter(codes.system == "nubc").select(
        _n_code="code", _n_cat="category", _n_live="live"
    )
    t = e.left_join(hl7, e.discharge_disposition == hl7._h_code)
    t = t.left_join(nubc, t.discharge_nubc == nubc._n_code)
    return t.mutate(
        disposition_category=ibis.coalesce(t._n_cat, t._h_cat, ibis.literal("unknown")),
        live_disposition=ibis.cases((t._n_cat.notnull(), t._n_live), else_=t._h_live),
    ).drop("_h_code", "_h_cat", "_h_live", "_n_code", "_n_cat", "_n_live")


def surgeons(wh: Warehouse) -> ir.Table:
    """(surgeon_stay_id, surgeon_id): the performer of each stay's principal procedure.

    Principal procedure (UB-04 FL74, NUBC): the Claim's procedure with sequence 1, matched to
    the stay's Procedure by code; without a Claim, the stay's earliest performed Procedure that
    has a performer (then the lowest id). The first performer of that Procedure is the surgeon.
    """
    proc = source(wh, "fhir__procedure")
    proc = proc.filter(proc.status.isnull() | (proc.status != "entered-in-error"))
    perf = source(wh, "fhir__procedure_performer")
    first_perf = perf.filter(perf.actor_id.notnull())
    first_perf = first_perf.group_by("procedure_id").aggregate(
        actor_id=first_perf.actor_id.argmin(first_perf.pos)
    )
    p = proc.join(first_perf, proc.id == first_perf.procedure_id).select(
        stay_id=proc.encounter_id,
        code=norm_code(proc.code),
        actor_id=first_perf.actor_id,
        when=ibis.coalesce(proc.performed_date_time_ts, proc.performed_period_start_ts)
        .epoch_seconds()
        .fill_null(0),
        proc_id=proc.id,
    )
    claim = source(wh, "fhir__claim")
    cp = source(wh, "fhir__claim_procedure")
    cps = cp.filter(cp.sequence == 1)
    j = cps.join(claim, cps.claim_id == claim.id)
    seq1 = j.select(stay_id=j.encounter_id, code=norm_code(j.code)).distinct()
    principal = p.view().join(seq1, ["stay_id", "code"])
    by_claim = principal.group_by("stay_id").aggregate(
        by_claim=principal.actor_id.argmin(principal.when)
    )
    first = p.group_by("stay_id").aggregate(
        earliest=p.actor_id.argmin(p.when.cast("string").lpad(12, "0") + "|" + p.proc_id)
    )
    t = first.left_join(by_claim, "stay_id")
    return t.select(surgeon_stay_id=t.stay_id, surgeon_id=ibis.coalesce(t.by_claim, t.earliest))


def stay_units(wh: Warehouse, stays: ir.Table) -> ir.Table:
    """Unit exposure: one row per stay x ward-level unit it passed through.

    Columns: stay_id, unit_id, first_ts (earliest location period start there), last_ts (latest
    period end, else start), is_discharge_unit (the unit of ``core__inpatient_stay.unit_id``).
    Stays without any Encounter.location have no rows (their unit is unknown).
    Unit-level denominators follow ICU practice (SCCM/ANZICS: ICU mortality = deaths among
    ICU admissions), so a stay counts at every unit it touched, not only where it ended.
    """
    eloc = source(wh, "fhir__encounter_location")
    ids = stays.select("stay_id", discharge_unit=stays.unit_id)
    t = eloc.join(ids, eloc.encounter_id == ids.stay_id).left_join(_wards(wh), "location_id")
    t = t.select(
        "stay_id",
        "discharge_unit",
        unit_id=ibis.coalesce(t.ward_id, t.location_id),
        start=t.period_start_ts,
        end=ibis.coalesce(t.period_end_ts, t.period_start_ts),
    ).filter(_.unit_id.notnull())
    g = t.group_by(["stay_id", "unit_id"]).aggregate(
        first_ts=t.start.min(),
        last_ts=t.end.max(),
        is_discharge_unit=(t.unit_id == t.discharge_unit).fill_null(False).any(),
    )
    return g


def stays_in_unit(wh: Warehouse, unit_id: str) -> ir.Table:
    """Stay ids (column ``stay_id``) that passed through ``unit_id`` (from core__stay_unit);
    ``unknown`` gives the stays without a unit. For drill-downs behind unit-level results."""
    stays = wh.table("core__inpatient_stay")
    if unit_id == "unknown":
        return stays.filter(stays.unit_id.isnull()).select("stay_id")
    if not wh.exists("core__stay_unit"):  # a warehouse built before unit exposure existed
        return stays.filter(stays.unit_id == unit_id).select("stay_id")
    su = wh.table("core__stay_unit")
    return su.filter(su.unit_id == unit_id).select("stay_id").distinct()


def add_chains(stays: ir.Table, candidates: ir.Table | None = None) -> ir.Table:
    """Transfer chains: link an acute stay to the previous one when it is an acute admission at
    another site within 24 h of that stay's discharge (CMS: an admission to another acute care
    hospital on the same or the next day is a transfer, whatever the discharge status).

    ``chain_id`` = id of the chain's first stay; ``chain_seq`` 1..n; ``chain_last`` marks the
    last stay; ``transfer_in`` marks stays that continue a chain or arrive with admitSource
    ``hosp-trans``; ``transfer_out`` marks stays that continue in a chain or were discharged to
    another acute hospital (disposition category ``acute_transfer``).

    ``candidates`` (default ``stays``): the same stays' patient_id, stay_id, admit_ts,
    discharge_ts and acute alone, to find the patients who may have a chain.
    """
    # Only a patient with two acute stays, one admitted within the transfer gap of the other's
    # discharge, can have a chain. The chain windows (three passes over the stays) run on those
    # patients' stays alone: 864K of 1M stays belong to patients with two or more acute stays,
    # a few thousand to patients with such a pair.
    pairs = _close_pairs(stays if candidates is None else candidates)
    t = stays.mutate(_may_link=stays.patient_id.isin(pairs).fill_null(False))
    one = ibis.literal(1, "int64")
    alone = t.filter(~t._may_link).mutate(
        _linked=False, chain_id=t.stay_id, chain_seq=one, chain_size=one
    )
    t = ibis.union(alone, _chain_windows(t.filter(t._may_link)), distinct=False)
    last = t.chain_seq == t.chain_size
    t = t.mutate(
        chain_last=last,
        transfer_in=t._linked | (t.admit_source == "hosp-trans").fill_null(False),
        transfer_out=~last
        | (t.disposition_category == terminology.ACUTE_TRANSFER).fill_null(False),
    )
    return t.drop("_linked", "_may_link")


def _close_pairs(stays: ir.Table) -> ir.Column:
    """Patients with two acute stays, one admitted within ``TRANSFER_GAP_SECONDS`` (either
    way) of the other's discharge: a superset of the patients :func:`_chain_windows` links."""
    a = stays.filter(stays.acute & stays.patient_id.notnull()).select(
        "patient_id", "stay_id", "admit_ts"
    )
    b = stays.filter(stays.acute & stays.patient_id.notnull()).select(
        _b_patient=stays.patient_id, _b_stay=stays.stay_id, _b_end=stays.discharge_ts
    )
    gap = ibis.interval(seconds=TRANSFER_GAP_SECONDS)
    close = a.join(
        b,
        [
            a.patient_id == b._b_patient,
            a.stay_id != b._b_stay,
            a.admit_ts >= b._b_end - gap,
            a.admit_ts <= b._b_end + gap,
        ],
    )
    return close.patient_id


def _chain_windows(stays: ir.Table) -> ir.Table:
    """``_linked`` and chain_id / chain_seq / chain_size, from windows over each patient's
    stays ordered by admission (then id)."""
    w = ibis.window(group_by="patient_id", order_by=["admit_ts", "stay_id"])
    prev_end = stays.discharge_ts.lag().over(w)
    prev_acute = stays.acute.lag().over(w)
    prev_site = stays.site_id.lag().over(w)
    prev_category = stays.disposition_category.lag().over(w)
    gap = stays.admit_ts.epoch_seconds() - prev_end.epoch_seconds()
    linked = (
        stays.acute
        & prev_acute
        & (prev_category != terminology.EXPIRED)
        & (prev_site != stays.site_id)
        & (gap >= -TRANSFER_GAP_SECONDS)
        & (gap <= TRANSFER_GAP_SECONDS)
    ).fill_null(False)
    t = stays.mutate(_linked=linked)
    w2 = ibis.window(group_by="patient_id", order_by=["admit_ts", "stay_id"], rows=(None, 0))
    t = t.mutate(_chain_no=(~t._linked).cast("int64").sum().over(w2))
    wc = ibis.window(group_by=["patient_id", "_chain_no"], order_by=["admit_ts", "stay_id"])
    wcall = ibis.window(group_by=["patient_id", "_chain_no"])
    t = t.mutate(
        chain_id=t.stay_id.first().over(wc),
        chain_seq=(ibis.row_number().over(wc) + 1).cast("int64"),
        chain_size=t.stay_id.count().over(wcall).cast("int64"),
    )
    return t.drop("_chain_no")


# -- comorbidity ---------------------------------------------------------------------------------
@ibis.udf.agg.builtin(name="bit_or")
def bit_or(x: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR of a group: BIT_OR in DuckDB and in Spark SQL (3.0+). Declared as a builtin
    because Ibis 12 has no pyspark rule for its own ``bit_or``."""


def _complication_codes(diagnoses: ir.Table) -> ir.Table:
    """(c_code): the distinct diagnosis codes on the complication list (value set
    ``complication_dx``), tested once per distinct code."""
    prefixes = terminology.value_set("complication_dx")
    codes = diagnoses.select("code").distinct()
    hit = ibis.literal(False)
    for prefix in prefixes:
        hit = hit | codes.code.startswith(prefix)
    return codes.filter(hit).select(c_code="code")


def _category_bits() -> dict[str, int]:
    """Flag column (``ch_mi`` ...) -> its bit in a comorbidity mask, in the source's order."""
    names = [
        f"{index[:2]}_{cat}"
        for index in ("charlson", "elixhauser")
        for cat in terminology.categories(index)  # type: ignore[arg-type]
    ]
    if len(names) > 63:
        raise ValueError(f"{len(names)} comorbidity categories do not fit an int64 mask")
    return {name: 1 << i for i, name in enumerate(names)}


def _category_prefixes() -> list[tuple[str, str]]:
    """(flag column, undotted prefix) of every Charlson and Elixhauser category (Quan 2005 map,
    ``cmo.terminology.comorbidity_map``): the one list that both the comorbidity masks and the
    lookback's codes (:func:`comorbid_codes`) read, so the two cannot disagree."""
    return [
        (f"{index[:2]}_{cat}", prefix)
        for index in ("charlson", "elixhauser")
        for cat, prefix in terminology.comorbidity_map(index)  # type: ignore[arg-type]
    ]


def _code_masks(codes: ir.Table, flags: dict[str, int]) -> ir.Table:
    """(code, mask) for each distinct code that falls in a category: a code is in a category
    when it starts with one of the category's prefixes (Quan 2005, see ``cmo.terminology``).

    Matching the distinct codes (72 in the 1M-stay benchmark) instead of every diagnosis row
    keeps the prefix expansion tiny (it made 5.4M distinct (stay, prefix) rows before).
    """
    rows = [(prefix, flags[flag]) for flag, prefix in _category_prefixes() if flag in flags]
    cmap = memtable(
        pd.DataFrame(rows, columns=["prefix", "bit"]), {"prefix": "string", "bit": "int64"}
    )
    lengths = sorted({len(p) for p, _b in rows})
    prefixes = ibis.union(
        *[codes.select("code", prefix=codes.code.substr(0, n)) for n in lengths], distinct=True
    )
    bits = prefixes.join(cmap, "prefix").select("code", "bit").distinct()
    # The (code, bit) pairs are distinct, so their sum is their bitwise OR.
    return bits.group_by("code").aggregate(mask=bits.bit.sum())


def comorbidity(diagnoses: ir.Table, stays: ir.Table) -> ir.Table:
    """Charlson and Elixhauser flags and scores per stay from its secondary diagnoses.

    Risk adjustment must not credit a hospital for the harm it caused (CMS POA indicator
    reporting; AHRQ Elixhauser Comorbidity Software Refined counts POA-dependent conditions only
    when present on admission), so a secondary diagnosis counts only when it was present on
    admission (POA Y or W, or exempt from POA reporting: read as Y), or, without a POA
    indicator, when it was also coded in the patient's encounters in the 12 months before the
    admission (``prior_12m``). POA N or U never count, and neither does a code on the
    complication list (value set ``complication_dx``: ICD-10-CM T80-T88, complications of
    surgical and medical care), whatever its POA.
    """
    flags = _category_bits()
    dx_cols = diagnoses.columns
    complication = _complication_codes(diagnoses)
    d = diagnoses.left_join(complication, diagnoses.code == complication.c_code)
    # A diagnosis table without the lookback column (built before it existed): no lookback.
    prior = d.prior_12m.fill_null(False) if "prior_12m" in dx_cols else ibis.literal(False)
    dx = d.filter(
        ~d.is_principal
        & d.c_code.isnull()
        & (d.poa.isin(POA_COMORBID).fill_null(False) | (d.poa.isnull() & prior))
    ).select(*dx_cols)
    masks = _code_masks(dx.select("code").distinct(), flags)
    hits = dx.join(masks, "code")
    # One int64 OR per stay instead of a distinct (stay, category) list pivoted by 48 bool_or
    # aggregates (5.4M prefix rows made distinct, then the pivot: ~3.6 s at 1M stays).
    wide = hits.group_by("stay_id").aggregate(mask=bit_or(hits.mask))
    base = stays.select("stay_id").left_join(wide, "stay_id")
    base = base.select("stay_id", mask=base.mask.fill_null(0))
    # Flags, hierarchy and scores once per distinct mask (45K of them for 1M stays), then
    # joined back: the ~250 flag and score expressions on 1M rows cost ~0.7 s CPU more.
    t = base.select("mask").distinct()
    cols: dict[str, Any] = {
        name: (t.mask & ibis.literal(bit, "int64")) != 0 for name, bit in flags.items()
    }
    t = t.select("mask", **cols)
    # Hierarchy: the severe form cancels the mild one.
    fixes = {}
    for index, prefix in (("charlson", "ch"), ("elixhauser", "el")):
        for severe, mild in terminology.HIERARCHY[index]:  # type: ignore[index]
            fixes[f"{prefix}_{mild}"] = t[f"{prefix}_{mild}"] & ~t[f"{prefix}_{severe}"]
    t = t.mutate(**fixes)
    scores = {}
    for name, index, scheme, prefix in (
        ("charlson_quan2011", "charlson", "quan2011", "ch"),
        ("charlson_1987", "charlson", "charlson1987", "ch"),
        ("charlson_lace", "charlson", "lace", "ch"),
        ("elixhauser_vw", "elixhauser", "van_walraven2009", "el"),
    ):
        w = terminology.weights(scheme)
        total: Any = ibis.literal(0.0)
        for cat in terminology.categories(index):  # type: ignore[arg-type]
            if w[cat]:
                total = total + t[f"{prefix}_{cat}"].cast("float64") * w[cat]
        scores[name] = total
    per_mask = t.mutate(**scores)
    return base.view().join(per_mask, "mask").drop("mask")
