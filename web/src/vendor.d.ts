declare module 'frappe-gantt';
