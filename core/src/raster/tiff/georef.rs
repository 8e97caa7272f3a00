//! GeoTIFF georeferencing (tie point and pixel scale, or a transformation matrix; GeoKeys) and GDAL metadata.

use super::*;

pub(super) fn georef(tags: &HashMap<u16, Entry>, e: Endian) -> (GeoTransform, Option<Crs>, Option<String>) {
    let mut gt = GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let keys: Vec<u64> = tags.get(&GEO_KEY_DIRECTORY).map(|t| t.u64s(e)).unwrap_or_default();
    let doubles: Vec<f64> = tags.get(&GEO_DOUBLE_PARAMS).map(|t| t.f64s(e)).unwrap_or_default();
    let ascii: String = tags.get(&GEO_ASCII_PARAMS).map(|t| t.string()).unwrap_or_default();
    let mut key = HashMap::new();
    let mut key_str = HashMap::new();
    if keys.len() >= 4 {
        let n = keys[3] as usize;
        for k in 0..n {
            let Some(rec) = keys.get(4 + 4 * k..8 + 4 * k) else {
                break;
            };
            let (id, loc, count, val) = (rec[0] as u16, rec[1] as u16, rec[2] as usize, rec[3] as usize);
            match loc {
                0 => {
                    key.insert(id, val as f64);
                }
                GEO_DOUBLE_PARAMS => {
                    if let Some(v) = doubles.get(val) {
                        key.insert(id, *v);
                    }
                }
                GEO_ASCII_PARAMS => {
                    if let Some(s) = ascii.get(val..val.saturating_add(count).min(ascii.len())) {
                        key_str.insert(id, s.trim_end_matches('|').to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let pixel_is_point = key.get(&1025).copied() == Some(2.0);
    if let Some(m) = tags.get(&MODEL_TRANSFORMATION).map(|t| t.f64s(e)) {
        if m.len() >= 8 {
            gt = GeoTransform([m[3], m[0], m[1], m[7], m[4], m[5]]);
        }
    } else if let (Some(sc), Some(tp)) =
        (tags.get(&MODEL_PIXEL_SCALE).map(|t| t.f64s(e)), tags.get(&MODEL_TIEPOINT).map(|t| t.f64s(e)))
    {
        if sc.len() >= 2 && tp.len() >= 6 {
            let (sx, sy) = (sc[0], sc[1]);
            gt = GeoTransform([tp[3] - tp[0] * sx, sx, 0.0, tp[4] + tp[1] * sy, 0.0, -sy]);
        }
    }
    if pixel_is_point {
        let g = &mut gt.0;
        g[0] -= 0.5 * g[1] + 0.5 * g[2];
        g[3] -= 0.5 * g[4] + 0.5 * g[5];
    }
    let model = key.get(&1024).copied().unwrap_or(0.0) as u32;
    let code = match model {
        1 => key.get(&3072).copied(),
        2 => key.get(&2048).copied(),
        _ => key.get(&3072).or_else(|| key.get(&2048)).copied(),
    }
    .map(|c| c as u32);
    match code {
        Some(c) if c > 0 && c != 32767 => match Crs::from_epsg(c) {
            Ok(crs) => (gt, Some(crs), None),
            Err(err) => (gt, None, Some(err.to_string())),
        },
        None if keys.is_empty() => (gt, None, None),
        _ => {
            // User-defined CRS: a few writers put a WKT or EPSG name in the citation.
            let cit = key_str.get(&3073).or_else(|| key_str.get(&1026)).or_else(|| key_str.get(&2049));
            match cit.map(|s| Crs::from_user_input(s)) {
                Some(Ok(c)) => (gt, Some(c), None),
                _ => (gt, None, Some(format!("user-defined GeoTIFF CRS not supported (citation {cit:?})"))),
            }
        }
    }
}

pub(super) fn parse_band_descriptions(xml: &str, names: &mut [Option<String>]) {
    for item in xml.split("<Item ").skip(1) {
        let Some(close) = item.find('>') else {
            continue;
        };
        let attrs = &item[..close];
        if !attrs.contains("role=\"description\"") {
            continue;
        }
        let sample =
            attrs.split("sample=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse::<usize>().ok());
        let text = item[close + 1..].split("</Item>").next().unwrap_or("");
        if let Some(slot) = sample.and_then(|s| names.get_mut(s)) {
            *slot = Some(text.to_string());
        }
    }
}
