-- Up Migration
-- The original's 10 sample users, in its order and with its bytes: the second
-- username is 'mco' followed by the Cyrillic letters U+0441 U+0442 U+0430, as the
-- original init.sql has it. ON CONFLICT keeps an adopted original database as it is.
INSERT INTO users (username, email, full_name, department)
VALUES
    ('jsilva', 'joao.silva@empresa.com', 'João Silva', 'Desenvolvimento'),
    ('mcoста', 'maria.costa@empresa.com', 'Maria Costa', 'Design'),
    ('psantos', 'pedro.santos@empresa.com', 'Pedro Santos', 'DevOps'),
    ('aolive', 'ana.oliveira@empresa.com', 'Ana Oliveira', 'QA'),
    ('rlima', 'ricardo.lima@empresa.com', 'Ricardo Lima', 'Desenvolvimento'),
    ('cferr', 'carla.ferreira@empresa.com', 'Carla Ferreira', 'Produto'),
    ('lmartins', 'lucas.martins@empresa.com', 'Lucas Martins', 'Segurança'),
    ('jrodrig', 'julia.rodrigues@empresa.com', 'Julia Rodrigues', 'Design'),
    ('falves', 'felipe.alves@empresa.com', 'Felipe Alves', 'DevOps'),
    ('bcarvalho', 'beatriz.carvalho@empresa.com', 'Beatriz Carvalho', 'Desenvolvimento')
ON CONFLICT DO NOTHING;

-- Down Migration
DELETE FROM users WHERE email IN (
    'joao.silva@empresa.com',
    'maria.costa@empresa.com',
    'pedro.santos@empresa.com',
    'ana.oliveira@empresa.com',
    'ricardo.lima@empresa.com',
    'carla.ferreira@empresa.com',
    'lucas.martins@empresa.com',
    'julia.rodrigues@empresa.com',
    'felipe.alves@empresa.com',
    'beatriz.carvalho@empresa.com'
);
