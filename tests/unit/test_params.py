from pipeline.core.params import (
    MAX_FILE_BYTES,
    PIPELINE_FILLED,
    check_file,
    check_same_keys,
    decode,
)

TEMPLATE = {
    "EnvironmentName": {"Type": "String", "AllowedValues": ["dev", "prod"]},
    "InstanceCount": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 4},
    "Prefix": {"Type": "String", "Default": "p", "AllowedPattern": "^[a-z]+$", "MaxLength": 5},
    "ModelData": {"Type": "String"},
}


def doc(**values):
    return {"Parameters": {"EnvironmentName": "dev", **values}, "Tags": {}}


def messages(problems):
    return [str(p) for p in problems]


def test_a_valid_file_has_no_problems():
    assert check_file(TEMPLATE, doc(InstanceCount="2"), "dev.json") == []


def test_pipeline_filled_keys_are_neither_required_nor_allowed():
    assert "ModelData" in PIPELINE_FILLED
    assert messages(check_file(TEMPLATE, doc(ModelData="s3://b/k"), "dev.json")) == [
        "dev.json: ModelData: is filled by the pipeline at deploy time (from pipeline.toml, "
        "the manifest or bootstrap outputs); remove it"
    ]


def test_max_length_and_max_value_are_checked():
    found = messages(check_file(TEMPLATE, doc(Prefix="toolong", InstanceCount="5"), "f"))
    assert "f: Prefix: longer than MaxLength 5" in found
    assert "f: InstanceCount: 5 is above MaxValue 4" in found


def test_a_document_that_is_not_the_expected_shape_is_one_problem():
    assert messages(check_file(TEMPLATE, ["dev"], "f")) == [
        'f: must be an object {"Parameters": {...}, "Tags": {...}}, not an array'
    ]


def test_keys_that_differ_between_files_are_named_per_file():
    found = check_same_keys({"dev.json": doc(InstanceCount="1"), "prod.json": doc()})
    assert messages(found) == [
        "prod.json: InstanceCount: is set in another environment's file but not here; add it "
        "(every environment's file has the same keys)"
    ]


def test_fraction_for_a_number_with_fractional_bounds_is_accepted():
    template = {"Ratio": {"Type": "Number", "MinValue": 0.5, "MaxValue": 2}}
    assert check_file(template, {"Parameters": {"Ratio": "1.5"}}, "f") == []
    assert messages(check_file(template, {"Parameters": {"Ratio": "1.5 "}}, "f")) == [
        "f: Ratio: '1.5 ' is not a number; write plain decimal digits without spaces, "
        'e.g. "2 or 0.5"'
    ]


def test_nested_duplicate_key_is_refused_with_its_path():
    raw = b'{"Parameters": {"A": "1"}, "Tags": {"x": "1", "x": "2"}, "Tags": {}}'
    document, problems = decode(raw, "f")
    assert document is None
    assert messages(problems) == [
        "f: Tags.x: appears more than once; JSON would silently keep the last one, so keep one",
        "f: Tags: appears more than once; JSON would silently keep the last one, so keep one",
    ]


def test_nan_literal_and_byte_order_mark_are_refused():
    assert messages(decode(b'{"Parameters": {"A": NaN}}', "f")[1]) == [
        "f: malformed JSON: NaN is not JSON; write numbers as strings of digits"
    ]
    assert "byte-order mark" in messages(decode(b"\xef\xbb\xbf{}", "f")[1])[0]


def test_bytes_over_the_cap_are_refused_without_decoding():
    assert messages(decode(b" " * (MAX_FILE_BYTES + 1), "f")[1]) == [
        f"f: is {MAX_FILE_BYTES + 1} bytes; a parameter file may be at most 1048576 bytes (1 MiB)"
    ]


def test_environment_name_default_of_another_environment_is_refused():
    template = {"EnvironmentName": {"Type": "String", "Default": "prod"}}
    assert messages(check_file(template, {"Parameters": {}}, "dev.json", "dev")) == [
        "dev.json: EnvironmentName: is 'prod' but this is the file of environment 'dev'; "
        'set it to "dev"'
    ]
