//! linfa 0.8.1 vs landopp on Ames (2,930 sales, 33 numeric features), same random 5-fold labels.
//! Regression: log sale price, R². Classification: price above the median, accuracy and ROC AUC.
use landopp::ml::{self, metrics, Dataset, Params};
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use std::time::Instant;

fn main() {
    let shared = std::env::args().nth(1).unwrap_or_else(|| "../shared/data".into());
    let mut rd = csv::Reader::from_path(format!("{shared}/ames_house_sales_ia/ames.csv")).expect("ames.csv");
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = rd.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    let price = head.iter().position(|h| h == "Sale_Price").unwrap();
    // numeric columns (every value parses or is empty), NaN → column median
    let num: Vec<usize> = (0..head.len())
        .filter(|&c| c != price && rows.iter().all(|r| r[c].is_empty() || r[c].parse::<f64>().is_ok()))
        .collect();
    let (n, p) = (rows.len(), num.len());
    let mut x = Array2::<f64>::zeros((n, p));
    for (j, &c) in num.iter().enumerate() {
        let mut v: Vec<f64> = rows.iter().map(|r| r[c].parse().unwrap_or(f64::NAN)).collect();
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        let med = s[s.len() / 2];
        v.iter_mut().filter(|x| !x.is_finite()).for_each(|x| *x = med);
        x.column_mut(j).assign(&Array1::from(v));
    }
    let y: Array1<f64> = rows.iter().map(|r| r[price].parse::<f64>().unwrap().ln()).collect();
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[n / 2];
    let yc: Array1<usize> = y.mapv(|v| (v > median) as usize);
    let folds = ml::kfold(n, 5, 0).unwrap();
    println!("Ames {n} × {p}, random 5-fold (landopp::ml::kfold seed 0)\n");
    println!("| task | model | metric | landopp | linfa 0.8.1 | CV time landopp / linfa |");
    println!("|---|---|---|---:|---:|---:|");

    let split = |f: usize| -> (Vec<usize>, Vec<usize>) {
        ((0..n).filter(|&i| folds[i] != f).collect(), (0..n).filter(|&i| folds[i] == f).collect())
    };
    let take = |idx: &[usize]| x.select(ndarray::Axis(0), idx);
    let ds = |idx: &[usize], t: &Array1<f64>| Dataset {
        x: take(idx).iter().copied().collect(),
        p,
        y: idx.iter().map(|&i| t[i]).collect(),
    };

    // regression: ours (ridge, alpha tiny) vs linfa-linear OLS
    let (mut ours, mut theirs) = (vec![0.0; n], vec![0.0; n]);
    let (mut to, mut tt) = (0.0, 0.0);
    for f in 0..5 {
        let (tr, te) = split(f);
        let t0 = Instant::now();
        let m = ml::Estimator::fit(&ds(&tr, &y), &Params::parse(r#"{"model": "linear", "task": "regression", "alpha": 1e-9}"#).unwrap()).unwrap();
        let pr = m.predict(&ds(&te, &y).x).unwrap();
        to += t0.elapsed().as_secs_f64();
        te.iter().zip(pr).for_each(|(&i, v)| ours[i] = v);
        let t0 = Instant::now();
        let lm = linfa_linear::LinearRegression::new()
            .fit(&linfa::Dataset::new(take(&tr), tr.iter().map(|&i| y[i]).collect::<Array1<f64>>()))
            .unwrap();
        let pr = lm.predict(&take(&te));
        tt += t0.elapsed().as_secs_f64();
        te.iter().zip(pr.iter()).for_each(|(&i, v)| theirs[i] = *v);
    }
    let yv = y.to_vec();
    println!("| regression | linear (OLS) | R² | {:.4} | {:.4} | {:.3} / {:.3} s |", metrics::r2(&yv, &ours), metrics::r2(&yv, &theirs), to, tt);
    println!("| regression | random forest / gradient boosting | R² | RF {:.3}, GB {:.3} (ml_compare.py) | no regression trees in linfa-trees 0.8.1 | — |",
        metrics::r2(&yv, &ml::cross_val_predict(&ds(&(0..n).collect::<Vec<_>>(), &y), &Params::parse(r#"{"task": "regression", "max_features": 1.0}"#).unwrap(), &folds).unwrap()),
        metrics::r2(&yv, &ml::cross_val_predict(&ds(&(0..n).collect::<Vec<_>>(), &y), &Params::parse(r#"{"model": "gradient_boosting", "task": "regression"}"#).unwrap(), &folds).unwrap()));

    // classification: random forest (100 trees, √p features) and logistic regression
    let ycf = yc.mapv(|v| v as f64);
    let all: Vec<usize> = (0..n).collect();
    let yci: Vec<usize> = yc.to_vec();
    for (label, ours_params) in [
        ("random forest (100 trees, √p)", r#"{"task": "classification", "n_estimators": 100}"#),
        ("logistic regression", r#"{"model": "linear", "task": "classification", "C": 1.0}"#),
    ] {
        let t0 = Instant::now();
        let prob = ml::cross_val_predict(&ds(&all, &ycf), &Params::parse(ours_params).unwrap(), &folds).unwrap();
        let to = t0.elapsed().as_secs_f64();
        let p1: Vec<f64> = prob.chunks(2).map(|c| c[1]).collect();
        let ours_acc = metrics::accuracy(&yci, &p1.iter().map(|v| (*v > 0.5) as usize).collect::<Vec<_>>());
        let ours_auc = metrics::roc_auc(&yci, &p1);
        let mut their_pred = vec![0usize; n];
        let mut their_score = vec![0.0; n];
        let t0 = Instant::now();
        for f in 0..5 {
            let (tr, te) = split(f);
            let train = linfa::Dataset::new(take(&tr), tr.iter().map(|&i| yc[i]).collect::<Array1<usize>>());
            if label.starts_with("random") {
                use rand::SeedableRng;
                let rng = rand::rngs::SmallRng::seed_from_u64(0);
                let m = linfa_ensemble::RandomForestParams::new_fixed_rng(linfa_trees::DecisionTree::params(), rng)
                    .ensemble_size(100)
                    .bootstrap_proportion(1.0)
                    .feature_proportion(((p as f64).sqrt().floor()) / p as f64)
                    .fit(&train)
                    .unwrap();
                let pr = m.predict(&take(&te));
                te.iter().zip(pr.iter()).for_each(|(&i, v)| {
                    their_pred[i] = *v;
                    their_score[i] = *v as f64; // majority vote only: no probabilities
                });
            } else {
                // standardised with the training fold's mean and deviation, as landopp does itself
                let xt = take(&tr);
                let mean = xt.mean_axis(ndarray::Axis(0)).unwrap();
                let sd = xt.std_axis(ndarray::Axis(0), 0.0).mapv(|v| if v > 0.0 { v } else { 1.0 });
                let train = linfa::Dataset::new((&xt - &mean) / &sd, train.targets().to_owned());
                let m = linfa_logistic::LogisticRegression::default().alpha(1.0 / tr.len() as f64).max_iterations(200).fit(&train).unwrap();
                let pr = m.predict_probabilities(&((&take(&te) - &mean) / &sd));
                // linfa's "positive" class is the larger one of the training fold
                let flip = m.labels().pos.class != 1;
                te.iter().zip(pr.iter()).for_each(|(&i, v)| {
                    let v = if flip { 1.0 - v } else { *v };
                    their_score[i] = v;
                    their_pred[i] = (v > 0.5) as usize;
                });
            }
        }
        let tt = t0.elapsed().as_secs_f64();
        println!(
            "| classification | {label} | accuracy / ROC AUC | {ours_acc:.3} / {ours_auc:.3} | {:.3} / {:.3} | {to:.2} / {tt:.2} s |",
            metrics::accuracy(&yci, &their_pred),
            metrics::roc_auc(&yci, &their_score)
        );
    }
}
