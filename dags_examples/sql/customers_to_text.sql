-- Customers who opted in and earned points; rendered by Airflow's Jinja first.
SELECT phone, first_name, points
FROM customers
WHERE opted_in = 1 AND points >= {{ params.min_points }}
ORDER BY id
