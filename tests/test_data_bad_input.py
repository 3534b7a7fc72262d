"""Bad input the data loaders refuse, and why: one list per format, readable as a table.

Each case writes a small file, loads it as a user would, and checks that the DataError says
what was wrong, where it is (file, line, array), and what is accepted.
"""


import pytest

from synapsenet import DataError, datasets

# -- CSV: features are numbers, labels are whole numbers or names -----------------------------
CSV_REFUSED = [
    # (why it is refused, file contents, options, what the message must say)
    ("a label 1.5 is not a class",
     "x,y,label\n1,2,0\n3,4,1.5\n5,6,1\n", {},
     r"line 3: label '1\.5' is not a whole number; class labels must be whole numbers or "
     r"names \(labels are read from the last column"),
    ("only measurements, no label column (it would be a class per value)",
     "0.31,1.20,0.55\n0.12,0.98,0.47\n0.44,1.31,0.58\n0.27,1.02,0.51\n", {},
     r"line 1: label '0\.55' is not a whole number.*read from the last column unless"),
    ("a label column chosen by name that holds fractions",
     "w,h,label\n1.5,2,0\n2.5,3,1\n", {"label_column": "w"},
     r"line 2: label '1\.5' is not a whole number.*column 'w' \(1\), as label_column says"),
    ("a NaN label", "x,label\n1,0\n2,nan\n3,1\n", {}, r"line 3: label 'nan' is not finite"),
    ("an empty label", "x,label\n1,0\n2,\n3,1\n", {}, r"line 3: empty label"),
    ("numbers mixed with names", "x,label\n1,0\n2,cat\n3,1\n4,1\n", {},
     r"line 3: label 'cat' is a name but line 2's label '0' is a number"),
    ("a single row", "x,label\n1,0\n", {}, r"only 1 sample; a classification needs at least two"),
    ("one class", "x,label\n1,7\n2,7\n3,7\n", {},
     r"all 3 samples have the label '7': one class"),
    ("a label per sample (an ID column)", "x,id\n1,101\n2,102\n3,103\n", {},
     r"each of the 3 samples has a label of its own \('101', '102', …\)"),
    ("a byte that is not UTF-8", b"x,label\n1,0\n2,1\n3,\xff\n", {},
     r"line 4: byte 0xff is not UTF-8 text"),
    ("UTF-16 text", "x,label\n1,0\n".encode("utf-16"), {}, r"is UTF-16 text.*save it as UTF-8"),
    ("a binary file", b"x,label\n1,0\n\x00\x01\x02\n", {}, r"line 3: a NUL byte; this is a binary"),
    ("an unclosed quote", 'x,label\n1,0\n2,"1\n3,1\n', {}, r"line 3: not valid CSV"),
    ("a missing feature value", "x,y,label\n1,,0\n2,3,1\n", {},
     r"line 2, column 'y' \(2\): is empty \(a missing value\)"),
    ("a feature that is not a number", "x,label\n1,0\ntwo,1\n", {},
     r"line 3, column 'x' \(1\): 'two' is not a number; feature columns must hold numbers; "
     r"the labels are in the last column"),
    ("an infinite feature", "x,label\n1,0\ninf,1\n", {}, r"line 3, column 'x' \(1\): inf"),
    ("a NaN feature", "x,y,label\n1,nan,0\n2,3,1\n", {},
     r"line 2, column 'y' \(2\): nan \(NaN or infinity\); features must be finite"),
    ("a ragged row", "a,b\n1,2\n3\n", {}, r"line 3: 1 fields, expected 2"),
    ("a header longer than the rows", "a,b,c\n1,2\n3,4\n", {},
     r"the header has 3 names but line 2 has 2 fields"),
    ("no feature column", "label\n0\n1\n", {}, r"needs at least one feature column"),
    ("an ambiguous label column name", "a,a,b\n1,2,0\n3,4,1\n", {"label_column": "a"},
     r"2 columns are named 'a'; name the label column by its index"),
    ("an unknown label column", "a,b\n1,2\n", {"label_column": "c"},
     r"no label column named 'c'; its columns are a, b"),
    ("a label column out of range", "1,2\n3,4\n", {"label_column": "7"},
     r"label column 7 is out of range for 2 columns"),
    ("an empty file", "", {}, r"is empty"),
    ("a header and no rows", "a,b\n", {}, r"header but no data rows"),
]


@pytest.mark.parametrize("contents,options,message",
                         [pytest.param(*c[1:], id=c[0]) for c in CSV_REFUSED])
def test_csv_refuses(tmp_path, contents, options, message):
    f = tmp_path / "data.csv"
    f.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    with pytest.raises(DataError, match=message) as err:
        datasets.load(f"csv:{f}", label_column=options.get("label_column"))
    assert str(f) in str(err.value)


CSV_ACCEPTED = [
    # (what is accepted, file contents, class names, labels)
    ("whole numbers, sorted numerically", "x,l\n1,10\n2,9\n3,10\n4,9\n", ["9", "10"],
     [1, 0, 1, 0]),
    ("whole numbers written as floats", "x,l\n1,1.0\n2,0.0\n3,1\n", ["0", "1"], [1, 0, 1]),
    ("negative labels are names like any other", "x,l\n1,-1\n2,1\n3,-1\n", ["-1", "1"],
     [0, 1, 0]),
    ("names, stripped and kept", "x,l\n1, cat\n2,dog \n3,cat\n", ["cat", "dog"], [0, 1, 0]),
    ("a byte-order mark", "\ufeffx,l\n1,a\n2,b\n3,a\n", ["a", "b"], [0, 1, 0]),
]


@pytest.mark.parametrize("contents,names,labels",
                         [pytest.param(*c[1:], id=c[0]) for c in CSV_ACCEPTED])
def test_csv_accepts(tmp_path, contents, names, labels):
    f = tmp_path / "data.csv"
    f.write_text(contents, encoding="utf-8")
    ds = datasets.load(f"csv:{f}")
    assert ds.class_names == names and ds.y.tolist() == labels
