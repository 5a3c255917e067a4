"""The tracker's pages: one set of templates served inside Airflow (the plugin's FastAPI app) and
written as the published static site (`tracker docs`, the DAG's publish step)."""
