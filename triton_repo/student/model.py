"""Triton python-backend entry point for the student; all logic lives in models.onnx_student."""

import json
import os
import sys
from pathlib import Path

# The backend stub embeds Python without reading PYTHONPATH; the runtime sets it to the
# project root and the environment's site-packages, so apply it before importing them.
sys.path[:0] = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from models.onnx_student import OnnxStudent  # noqa: E402
from models.serving import ANNOTATIONS_OUTPUT, TEXT_INPUT  # noqa: E402


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        version_dir = Path(args["model_repository"]) / args["model_version"]
        # A KIND_GPU instance (configs/gpu.pbtxt) runs on the GPU Triton gave it.
        providers = (
            [
                ("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])}),
                "CPUExecutionProvider",
            ]
            if args.get("model_instance_kind") == "GPU"
            else None
        )
        # Instances of this model share the machine's cores (CLINSTREAM_TRITON_INSTANCES).
        instances = json.loads(args["model_config"])["instance_group"][0]["count"]
        self.student = OnnxStudent(version_dir, providers=providers, instances=instances)

    def execute(self, requests: list) -> list:
        # All requests of a dynamic batch go through the network together.
        texts_per_request = [
            [
                value.decode("utf-8")
                for value in pb_utils.get_input_tensor_by_name(request, TEXT_INPUT)
                .as_numpy()
                .reshape(-1)
            ]
            for request in requests
        ]
        try:
            outputs = self.student.extract([text for texts in texts_per_request for text in texts])
        except Exception:  # noqa: BLE001 (answered per request below)
            # A batch merges requests of several workers (or batches in flight): a note that
            # fails must fail its own request only, so each is run again alone.
            return [self._alone(texts) for texts in texts_per_request]
        responses, start = [], 0
        for texts in texts_per_request:
            responses.append(_response(outputs[start : start + len(texts)]))
            start += len(texts)
        return responses

    def _alone(self, texts: list[str]):
        try:
            return _response(self.student.extract(texts))
        except Exception as error:  # noqa: BLE001
            # The error's kind only: its message may quote the note.
            return pb_utils.InferenceResponse(
                output_tensors=[],
                error=pb_utils.TritonError(f"extraction failed: {type(error).__name__}"),
            )


def _response(annotations: list):
    encoded = np.array(
        [[found.model_dump_json().encode("utf-8")] for found in annotations], dtype=np.object_
    )
    return pb_utils.InferenceResponse([pb_utils.Tensor(ANNOTATIONS_OUTPUT, encoded)])
