from pipeline.core.params import PIPELINE_FILLED, check_file, check_same_keys

TEMPLATE = {
    "EnvironmentName": {"Type": "String", "AllowedValues": ["dev", "prod"]},
    "InstanceCount": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 4},
    "Prefix": {"Type": "String", "Default": "p", "AllowedPattern": "^[a-z]+$",
                    "MaxLength": 5},
    "ModelData": {"Type": "String"},
}  # fmt: skip


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
