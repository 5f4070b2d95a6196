//! `map`: zip, product, constants, empty lists, and every map error.

use crate::common::*;
use hypernodes::prelude::*;

#[node(output = "label")]
fn label(letter: &str, n: i64, sep: &str) -> String {
    format!("{letter}{sep}{n}")
}

#[node(output = "checked")]
fn fail_on_three(x: i64) -> Result<i64, String> {
    if x == 3 {
        Err("three is not allowed".to_string())
    } else {
        Ok(x)
    }
}

#[node(output = "checked")]
fn panic_on_three(x: i64) -> i64 {
    assert_ne!(x, 3, "three is not allowed");
    x
}

fn letters() -> Inputs {
    Inputs::new()
        .with("letter", strings(&["a", "b", "c"]))
        .with("n", vec![1_i64, 2])
        .with("sep", "-".to_string())
}

engine_test!(
    fn zip_maps_item_by_item(engine) {
        let out = on(&engine, w1()).map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], MapMode::Zip)?;
        assert_eq!(out.len(), 3);
        assert_eq!(out.column::<i64>("doubled")?, &[2, 4, 6]);
        assert_eq!(out.column::<i64>("incremented")?, &[3, 5, 7]);
        assert_eq!(out.column::<i64>("squared")?, &[9, 25, 49]);
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled", "incremented", "squared"]);
    }
);

engine_test!(
    fn zip_over_several_lists_with_a_broadcast_constant(engine) {
        let inputs = letters().with("n", vec![1_i64, 2, 3]);
        let out = on(&engine, [label::node()]).map(&inputs, &["letter", "n"], "zip")?;
        assert_eq!(out.column::<String>("label")?, ["a-1", "b-2", "c-3"]);
    }
);

engine_test!(
    fn product_order_follows_map_over(engine) {
        let p = on(&engine, [label::node()]);
        let out = p.map(&letters(), &["letter", "n"], MapMode::Product)?;
        assert_eq!(out.column::<String>("label")?, ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"]);
        let out = p.map(&letters(), &["n", "letter"], "product")?;
        assert_eq!(out.column::<String>("label")?, ["a-1", "b-1", "c-1", "a-2", "b-2", "c-2"]);
    }
);

engine_test!(
    fn empty_lists_give_empty_columns(engine) {
        let out = on(&engine, w2()).map(&Inputs::new().with("passage", Vec::<String>::new()), &["passage"], MapMode::Zip)?;
        assert!(out.is_empty());
        assert_eq!(out.column::<usize>("word_count")?, &[] as &[usize]);
        assert_eq!(out.column::<String>("cleaned_text")?, &[] as &[String]);
        let out = on(&engine, [label::node()]).map(&letters().with("n", Vec::<i64>::new()), &["letter", "n"], MapMode::Product)?;
        assert_eq!(out.len(), 0);
    }
);

engine_test!(
    fn per_item_view(engine) {
        let out = on(&engine, w2()).map(&Inputs::new().with("passage", strings(&["A b", " c "])), &["passage"], MapMode::Zip)?;
        let item = out.item(1)?;
        assert_eq!(item.get::<String>("cleaned_text")?, "c");
        assert_eq!(*item.get_ref::<usize>("word_count")?, 1);
        assert_eq!(out.item(2).unwrap_err().to_string(), "Item 2 is out of range: the map has 2 item(s)");
        assert_eq!(
            out.column::<i64>("word_count").unwrap_err().to_string(),
            "Output 'word_count' has type Vec<usize>, not the requested Vec<i64>"
        );
    }
);

engine_test!(
    fn selected_outputs_in_a_map(engine) {
        let opts = RunOptions::new().with_outputs(["doubled"]);
        let out = on(&engine, w1()).map_with(&Inputs::new().with("x", vec![5_i64]), &["x"], MapMode::Zip, &opts)?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled"]);
        assert_eq!(out.column::<i64>("doubled")?, &[10]);
    }
);

engine_test!(
    fn unknown_map_mode(engine) {
        let err = on(&engine, w1()).map(&Inputs::new().with("x", vec![1_i64]), &["x"], "zipped").unwrap_err();
        assert_eq!(err.to_string(), "Unknown map mode 'zipped'. Valid modes: zip, product");
    }
);

engine_test!(
    fn empty_map_over(engine) {
        let err = on(&engine, w1()).map(&Inputs::new().with("x", vec![1_i64]), &[], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "map_over is empty: name at least one input to map over");
    }
);

engine_test!(
    fn map_over_name_not_an_input(engine) {
        let err = on(&engine, w1()).map(&Inputs::new().with("x", vec![1_i64]), &["xs"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "map_over name 'xs' is not an input. Inputs: ['x']. Did you mean 'x'?");
    }
);

engine_test!(
    fn mapped_value_must_be_a_list_of_the_element_type(engine) {
        let p = on(&engine, w1());
        let err = p.map(&Inputs::new().with("x", 1_i64), &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "Mapped input 'x' must be a list of i64 (Vec<i64>), found i64");
        let err = p.map(&Inputs::new().with("x", vec![1_i32]), &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "Mapped input 'x' must be a list of i64 (Vec<i64>), found Vec<i32>");
    }
);

engine_test!(
    fn zip_lengths_must_match(engine) {
        let err = on(&engine, [label::node()]).map(&letters(), &["letter", "n"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "map_over lists must have equal lengths in zip mode: 'letter' has 3, 'n' has 2");
    }
);

engine_test!(
    fn mapped_input_missing(engine) {
        let err = on(&engine, w1()).map(&Inputs::new(), &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "Missing required input(s): ['x']. Required inputs: ['x']");
    }
);

engine_test!(
    fn a_failing_item_names_node_and_index_and_returns_nothing(engine) {
        let p = on(&engine, [fail_on_three::node()]);
        let err = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "Node 'fail_on_three' failed on item 2: three is not allowed");
        assert!(matches!(err, Error::NodeFailed { item: Some(2), .. }));
    }
);

engine_test!(
    fn a_panicking_item_names_node_and_index(engine) {
        let p = on(&engine, [panic_on_three::node()]);
        let err = p.map(&Inputs::new().with("x", vec![3_i64]), &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'panic_on_three' panicked on item 0: assertion `left != right` failed: three is not allowed\n  left: 3\n right: 3"
        );
    }
);

engine_test!(
    fn a_large_map_keeps_item_order(engine) {
        let n = 100_000_i64;
        let out = on(&engine, w1()).map(&Inputs::new().with("x", (0..n).collect::<Vec<_>>()), &["x"], MapMode::Zip)?;
        let squared = out.column::<i64>("squared")?;
        assert_eq!(squared.len(), n as usize);
        assert!(squared.iter().enumerate().all(|(i, &s)| s == (2 * i as i64 + 1).pow(2)));
    }
);
