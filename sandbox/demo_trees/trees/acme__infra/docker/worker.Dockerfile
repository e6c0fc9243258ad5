FROM python:3.11-slim
RUN useradd --create-home --uid 10001 worker
WORKDIR /home/worker/app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER worker
CMD ["python", "-m", "worker"]
