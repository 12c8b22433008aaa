"""Which folders a container finds executables in first: the image's own, then every
container's (`--image-path-prefix IMAGE=DIR`, `--path-prefix DIR`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamigration_sandbox.real.api_client import ApiClient
from datamigration_sandbox.real.cluster_credentials import ClusterCredentials
from datamigration_sandbox.real.kubelet import image_path_prefixes
from datamigration_sandbox.real.kubelet_settings import KubeletSettings

STAND_IN = "localhost/stand-in:test"


def test_image_path_prefix_options_map_each_image_to_its_folders_in_order() -> None:
    options = [f"{STAND_IN}=/a", "other:1=/b", f"{STAND_IN}=/c=d"]
    assert image_path_prefixes(options) == {
        STAND_IN: (Path("/a"), Path("/c=d")),
        "other:1": (Path("/b"),),
    }


@pytest.mark.parametrize("option", ["/no-image", "image=", "=/folder"])
def test_an_image_path_prefix_option_needs_an_image_and_a_folder(option: str) -> None:
    with pytest.raises(ValueError, match="IMAGE=DIR"):
        image_path_prefixes([option])


def test_a_container_of_the_image_searches_its_folders_before_the_shared_ones(
    tmp_path: Path,
) -> None:
    credentials = ClusterCredentials.generate(tmp_path / "pki")
    api = ApiClient("https://127.0.0.1:1", "token", credentials.ca_cert.read_bytes())
    settings = KubeletSettings(
        api=api,
        node_name="node",
        data_dir=tmp_path,
        path_prefix=(Path("/shared"),),
        image_path_prefix={STAND_IN: (Path("/stand-in"),)},
    )
    assert settings.container_path_prefix(STAND_IN) == (Path("/stand-in"), Path("/shared"))
    assert settings.container_path_prefix("python:3.11-slim") == (Path("/shared"),)
    assert settings.container_path_prefix(None) == (Path("/shared"),)
