"""The difflib diff core: alignment, counts, unified hunks, inline spans."""

from t2e_tui import difftext


def test_identical_texts_have_no_changes():
    d = difftext.compare("a\nb\n", "a\nb")
    assert d.stats.identical
    assert [r.kind for r in d.rows] == ["equal", "equal"]
    assert d.unified() == []
    assert difftext.unified_text("a", "a") == ""


def test_insert_delete_replace_rows_and_numbers():
    a = "keep\nold rule\ngone\nend"
    b = "keep\nnew rule\nend\nadded"
    d = difftext.compare(a, b)
    kinds = [(r.kind, r.left_no, r.right_no) for r in d.rows]
    assert kinds == [("equal", 1, 1), ("replace", 2, 2), ("delete", 3, None),
                     ("equal", 4, 3), ("insert", None, 4)]
    assert (d.stats.added, d.stats.removed, d.stats.changed) == (1, 1, 1)


def test_repeated_lines_are_not_junked():
    # 300 identical rule lines: with autojunk the matcher would treat them as junk and
    # report the whole block as changed; we expect a single inserted line.
    a = "\n".join(["- Always confirm."] * 300)
    b = "\n".join(["- Always confirm."] * 150 + ["- New rule."] + ["- Always confirm."] * 150)
    d = difftext.compare(a, b)
    assert (d.stats.added, d.stats.removed, d.stats.changed) == (1, 0, 0)


def test_unified_text_matches_diff_u_shape():
    a = "\n".join(f"line {i}" for i in range(1, 11))
    b = a.replace("line 5", "line five")
    out = difftext.unified_text(a, b, "A", "B", context=1).splitlines()
    assert out == ["--- A", "+++ B", "@@ -4,3 +4,3 @@", " line 4", "-line 5", "+line five",
                   " line 6"]


def test_unified_hunks_split_when_far_apart_and_merge_when_close():
    a = "\n".join(f"l{i}" for i in range(30))
    far = a.replace("l2\n", "X\n").replace("l25", "Y")
    assert sum(1 for u in difftext.compare(a, far).unified(2) if u.tag == "@") == 2
    near = a.replace("l2\n", "X\n").replace("l5\n", "Y\n")
    assert sum(1 for u in difftext.compare(a, near).unified(2) if u.tag == "@") == 1


def test_inline_spans_mark_changed_words():
    left, right = difftext.inline_spans("Always confirm before a write.",
                                        "Never confirm before a write.")
    assert [("Always confirm before a write."[s:e]) for s, e in left] == ["Always"]
    assert [("Never confirm before a write."[s:e]) for s, e in right] == ["Never"]


def test_side_by_side_text_marks_each_kind():
    out = difftext.side_by_side_text("a\nb\nc", "a\nB\nc\nd", width=60).splitlines()
    assert out[0].split() == ["1", "a", "1", "a"]
    assert " | " in out[1] and " > " in out[3]


def test_empty_sides():
    d = difftext.compare("", "x\ny")
    assert [r.kind for r in d.rows] == ["insert", "insert"]
    assert difftext.unified_text("", "x").splitlines()[2] == "@@ -0,0 +1,1 @@"
