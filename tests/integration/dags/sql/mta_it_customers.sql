-- Customers to text tonight; rendered by Airflow's Jinja first (template_ext ".sql").
SELECT phone, first_name, points
FROM {{ params.table }}
WHERE points >= {{ params.min_points }}
ORDER BY id
