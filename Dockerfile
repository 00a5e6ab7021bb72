# One image for api, worker and beat. ORT_VARIANT=gpu swaps CPU onnxruntime for onnxruntime-gpu
# (never both in one environment: they share the module name and the last one installed wins silently).
# The slim base has no CUDA: the [cuda,cudnn] extras bring CUDA 13 and cuDNN 9 as pip packages, which
# workers/pipeline/models.py:open_session loads before the CUDA provider starts (host driver >= 580).
FROM python:3.11-slim-bookworm
ARG ORT_VARIANT=cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends poppler-utils fonts-ipaexfont fonts-klee fonts-seto fonts-kiloji libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ocr_service ./ocr_service
COPY workers ./workers
COPY scanner_bridge ./scanner_bridge
COPY form_definitions ./form_definitions
# A site decides cpu or cuda for its worker with benchmarks/gpu_shapes.py (docker-compose.yml, worker).
COPY benchmarks ./benchmarks
RUN pip install . \
 && if [ "$ORT_VARIANT" = "gpu" ]; then pip uninstall -y onnxruntime && pip install 'onnxruntime-gpu[cuda,cudnn]'; fi
RUN useradd --system --uid 10001 ocr && mkdir -p /data && chown ocr /data
USER ocr
ENV OCR_DATA_DIR=/data OCR_FORM_DEFINITIONS_DIR=/app/form_definitions
EXPOSE 8000
CMD ["ocr-service", "api", "--host", "0.0.0.0"]
