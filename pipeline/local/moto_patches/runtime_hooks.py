"""The local SageMaker runtime's hooks into moto's SageMaker backend.

Owns: what makes an endpoint in the emulator serve its artifact: moto's endpoint create,
delete and CloudFormation create/update call the LocalRuntime (pipeline/local/runtime.py),
which provisions, activates and retires model servers; and reading moto's endpoint configs
and models into VariantSpecs (`_specs`, with the config's DataCaptureConfig). Must not:
start servers, fetch artifacts, check provenance or capture data itself (LocalRuntime does),
or correct non-runtime SageMaker behaviour (sagemaker.py).

AWS behaviour: SageMaker API reference CreateEndpoint, DescribeEndpoint (EndpointStatus
Creating -> InService | Failed, FailureReason), DeleteEndpoint.
Upstream: not reported (moto does not run models, by design).
"""

from __future__ import annotations

import functools
import logging

from pipeline.local.capture import CaptureConfig
from pipeline.local.runtime import LocalRuntime, ProvisionFailed, VariantSpec

log = logging.getLogger("pipeline.runtime")


def _specs(backend, config_name: str) -> list[VariantSpec]:
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        raise ProvisionFailed(f"Could not find endpoint configuration '{config_name}'.")
    capture = CaptureConfig.from_api(config.data_capture_config)
    specs = []
    for variant in config.production_variants:
        model = backend._models.get(variant["ModelName"])
        if model is None:
            raise ProvisionFailed(f"Could not find model '{variant['ModelName']}'.")
        container = model.primary_container or (model.containers or [{}])[0]
        specs.append(
            VariantSpec(
                variant=variant["VariantName"],
                model_name=model.model_name,
                image=container.get("Image", ""),
                model_data_url=container.get("ModelDataUrl", ""),
                environment=dict(container.get("Environment") or {}),
                capture=capture,
            )
        )
    return specs


def install(runtime: LocalRuntime) -> None:
    """AWS: CreateEndpoint returns with the endpoint Creating; it becomes InService once its
    production variants' containers pass the ping health check, or Failed with a
    FailureReason (SageMaker API reference CreateEndpoint, DescribeEndpoint: EndpointStatus,
    FailureReason). An AWS::SageMaker::Endpoint whose endpoint fails is a failed resource,
    and an update keeps the old endpoint serving until the new configuration serves
    (template reference AWS::SageMaker::Endpoint). moto made every endpoint InService at
    once with nothing behind it.

    Hooks `runtime` (pipeline.local.runtime.LocalRuntime) in. Replaces (wraps):
    moto.sagemaker.models.SageMakerModelBackend.create_endpoint and delete_endpoint,
    FakeEndpoint.create_from_cloudformation_json (after sagemaker.py's wrap); replaces
    FakeEndpoint.update_from_cloudformation_json.
    Upstream: not reported (moto does not run models, by design)."""
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends

    create_endpoint = SageMakerModelBackend.create_endpoint

    @functools.wraps(create_endpoint)
    def create(self, endpoint_name, endpoint_config_name, tags):
        endpoint = create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        endpoint.endpoint_status = "Creating"
        try:
            deployment = runtime.provision(endpoint_name, _specs(self, endpoint_config_name))
        except ProvisionFailed as failed:
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", failed.reason
            log.error("endpoint %s Failed: %s", endpoint_name, failed.reason)
            return endpoint
        runtime.activate(endpoint_name, deployment)
        endpoint.endpoint_status = "InService"
        return endpoint

    SageMakerModelBackend.create_endpoint = create

    delete_endpoint = SageMakerModelBackend.delete_endpoint

    @functools.wraps(delete_endpoint)
    def delete(self, endpoint_name):
        delete_endpoint(self, endpoint_name)
        runtime.retire(endpoint_name)

    SageMakerModelBackend.delete_endpoint = delete

    cfn_create = FakeEndpoint.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        endpoint = cfn_create(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        if endpoint.endpoint_status == "Failed":
            # As CloudFormation on AWS: the resource fails and the failed endpoint goes away.
            sagemaker_backends[account_id][region_name].endpoints.pop(endpoint.endpoint_name)
            raise RuntimeError(
                f"Endpoint {endpoint.endpoint_name} failed to reach InService: "
                f"{endpoint.failure_reason}"
            )
        return endpoint

    FakeEndpoint.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        """An update keeps the endpoint (and its old servers) until the new config serves."""
        backend = sagemaker_backends[account_id][region_name]
        props = cloudformation_json["Properties"]
        name, config_name = original_resource.endpoint_name, props["EndpointConfigName"]
        previous_status = original_resource.endpoint_status
        original_resource.endpoint_status = "Updating"
        try:
            deployment = runtime.provision(name, _specs(backend, config_name))
        except ProvisionFailed as failed:
            original_resource.endpoint_status = previous_status
            original_resource.failure_reason = failed.reason
            raise RuntimeError(f"Endpoint {name} update failed: {failed.reason}") from None
        config = backend.endpoint_configs[config_name]
        original_resource.endpoint_config_name = config_name
        original_resource.production_variants = original_resource._process_production_variants(
            config.production_variants
        )
        original_resource.data_capture_config = config.data_capture_config
        if props.get("DeploymentConfig") is not None:
            original_resource.deployment_config = props["DeploymentConfig"]
        original_resource.failure_reason = None
        original_resource.endpoint_status = "InService"
        runtime.activate(name, deployment)
        return original_resource

    FakeEndpoint.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)
