//! The PostgreSQL + PostGIS store's schema (run with `LANDOPP_TEST_DATABASE_URL`, which CI sets;
//! skipped visibly without it): the seed's tables with their PostGIS types, migrations that run
//! once however often they are asked, an audit log that refuses UPDATE, DELETE and TRUNCATE.

mod common;

#[test]
fn migrations_make_the_seed_schema_once_and_keep_the_audit_log_append_only() {
    let Some(base) = common::pg_base() else { return };
    let (schema, url) = common::pg_schema(&base, "m");
    let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("connects");
    // twice, as two replicas starting together would: one migration, the same version
    let (a, latest) = landopp_server::store::migrate(&url).expect("migrates");
    let (b, _) = landopp_server::store::migrate(&url).expect("again");
    assert_eq!((a as usize, b as usize), (latest, latest));
    let applied: i64 =
        c.query_one(&format!("SELECT COUNT(*) FROM {schema}.landopp_schema"), &[]).expect("versions").get(0);
    assert_eq!(applied as usize, latest, "each migration recorded once");
    // the seed's land tables, typed by PostGIS
    let geoms: Vec<(String, String, String, i32)> = c
        .query(
            "SELECT f_table_name::text, f_geometry_column::text, type, srid FROM public.geometry_columns
             WHERE f_table_schema = $1 AND f_table_name IN ('land_parcels', 'satellite_imagery') ORDER BY 1, 2",
            &[&schema],
        )
        .expect("geometry_columns")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let want = [
        ("land_parcels", "coordinates", "POINT", 4326),
        ("land_parcels", "geom", "MULTIPOLYGON", 4326),
        ("land_parcels", "geom_native", "GEOMETRY", 0),
        ("satellite_imagery", "footprint", "POLYGON", 4326),
    ];
    assert_eq!(
        geoms,
        want.iter().map(|(t, c, ty, s)| (t.to_string(), c.to_string(), ty.to_string(), *s)).collect::<Vec<_>>()
    );
    // land_parcels and parcel_scores hash-partitioned by parcel id (the PostgreSQL way of sharding)
    let parts: Vec<(String, i64)> = c
        .query(
            "SELECT p.relname::text, COUNT(i.inhrelid) FROM pg_partitioned_table t
             JOIN pg_class p ON p.oid = t.partrelid JOIN pg_namespace n ON n.oid = p.relnamespace
             LEFT JOIN pg_inherits i ON i.inhparent = p.oid
             WHERE n.nspname = $1 AND t.partstrat = 'h' GROUP BY 1 ORDER BY 1",
            &[&schema],
        )
        .expect("partitions")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(parts, vec![("land_parcels".to_string(), 8), ("parcel_scores".to_string(), 8)]);
    let cols: Vec<String> = c
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1
             AND table_name = 'satellite_imagery' ORDER BY ordinal_position",
            &[&schema],
        )
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for col in ["image_url", "capture_date", "cloud_cover", "resolution"] {
        assert!(cols.iter().any(|c| c == col), "satellite_imagery.{col}: {cols:?}");
    }
    // an audit entry, then every way of changing it refused by the database itself
    let store = landopp_server::store::Store::connect(&url).expect("store");
    store
        .run_sync(|c| {
            landopp_server::store::audit::append(
                c,
                &landopp_server::store::AuditEntry {
                    seq: 0,
                    at: 0,
                    actor: "test".into(),
                    action: "login".into(),
                    target: "-".into(),
                    outcome: "ok".into(),
                    client: "127.0.0.1".into(),
                    request_id: "r".into(),
                },
            )
        })
        .expect("append");
    for sql in ["UPDATE {s}.audit_log SET outcome = 'denied'", "DELETE FROM {s}.audit_log", "TRUNCATE {s}.audit_log"] {
        let e = c.batch_execute(&sql.replace("{s}", &schema)).expect_err(sql);
        assert!(e.to_string().contains("append-only") || format!("{e:?}").contains("append-only"), "{sql}: {e:?}");
    }
    let n: i64 = c.query_one(&format!("SELECT COUNT(*) FROM {schema}.audit_log"), &[]).expect("count").get(0);
    assert_eq!(n, 1);
}
