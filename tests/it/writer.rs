//! The Parquet output writer, which encodes the columns of a row group on every core:
//! an output of many row groups written by several workers is the same file, byte for
//! byte, run after run, and holds the rows computed.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use hypernodes::datagen::write_docs;
use hypernodes::io::FileRun;
use hypernodes::spec::{Registry, load};
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::parquet::{TempDir, choice, read_parquet, text_toml};

/// Every column W3 computes, and its inputs.
const ALL: [&str; 8] = [
    "id",
    "passage",
    "value",
    "sentences",
    "cleaned_text",
    "word_count",
    "char_count",
    "score",
];

engine_test!(
    fn many_row_groups_from_several_workers_are_the_same_bytes_run_after_run(engine) {
        let dir = TempDir::new(&format!("writer-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 30_000, 5)?;
        let file = load(&text_toml(), &Registry::new(), None)?;
        let run = |out: &str| {
            FileRun::new(file.pipeline.clone(), dir.join("docs.parquet"), dir.join(out))
                .with_engine(choice(&engine))
                .with_select(ALL)
                .with_partitions(4)
                .with_memory_limit(2 << 20)
                .run()
        };
        let summary = run("a.parquet")?;
        assert_eq!(summary.rows_out, 30_000);
        run("b.parquet")?;
        run("c.parquet")?;
        let a = std::fs::read(dir.join("a.parquet")).unwrap();
        assert!(a == std::fs::read(dir.join("b.parquet")).unwrap(), "a and b differ");
        assert!(a == std::fs::read(dir.join("c.parquet")).unwrap(), "a and c differ");

        // Row groups cut by the writer's budget (a quarter of the limit), all rows in order.
        let reader = SerializedFileReader::new(std::fs::File::open(dir.join("a.parquet")).unwrap()).unwrap();
        let groups = reader.metadata().row_groups();
        assert!(groups.len() >= 4, "{} row groups", groups.len());
        assert_eq!(groups.iter().map(|g| g.num_rows()).sum::<i64>(), 30_000);
        let out = read_parquet(&dir.join("a.parquet"));
        let input = read_parquet(&dir.join("docs.parquet"));
        let schema = out.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ALL);
        assert_eq!(out.column(0).as_ref(), input.column(0).as_ref());
        assert_eq!(out.column(1).as_ref(), input.column(1).as_ref());
        let passages = input.column(1).as_string::<i32>();
        let counts = out.column(5).as_primitive::<Int64Type>();
        for row in 0..out.num_rows() {
            assert_eq!(counts.value(row), passages.value(row).split_whitespace().count() as i64, "row {row}");
        }
        assert_eq!(counts.null_count(), 0);
        assert_eq!(dir.files(), ["a.parquet", "b.parquet", "c.parquet", "docs.parquet"]);
    }
);
