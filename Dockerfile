# One image for the web process and the Celery worker (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=ecgportal.settings.production

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 portal && mkdir -p /app/media /app/beat && chown portal /app/media /app/beat
USER portal

EXPOSE 8000
# Threaded workers, limits and hooks: deploy/gunicorn.conf.py (put deploy/nginx.conf in front).
CMD ["gunicorn", "ecgportal.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
