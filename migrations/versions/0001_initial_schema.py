"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('tasks',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('configuration', sa.JSON(), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('input_url', sa.Text(), nullable=True),
    sa.Column('mime_type', sa.String(length=200), nullable=True),
    sa.Column('output', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('prev_status', sa.String(length=16), nullable=True),
    sa.Column('prev_message', sa.Text(), nullable=True),
    sa.Column('prev_configuration', sa.JSON(), nullable=True),
    sa.Column('prev_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prev_finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('prev_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker_id', sa.String(length=100), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('task_id')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_tasks_lease', ['lease_expires_at'], unique=False, postgresql_where=sa.text("status = 'Processing'"), sqlite_where=sa.text("status = 'Processing'"))
        batch_op.create_index('ix_tasks_owner_created', ['owner', 'created_at'], unique=False)
        batch_op.create_index('ix_tasks_queue', ['created_at'], unique=False, postgresql_where=sa.text("status = 'Starting'"), sqlite_where=sa.text("status = 'Starting'"))

    op.create_table('task_files',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mime_type', sa.String(length=200), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'name')
    )



def downgrade():

    op.drop_table('task_files')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_queue', postgresql_where=sa.text("status = 'Starting'"), sqlite_where=sa.text("status = 'Starting'"))
        batch_op.drop_index('ix_tasks_owner_created')
        batch_op.drop_index('ix_tasks_lease', postgresql_where=sa.text("status = 'Processing'"), sqlite_where=sa.text("status = 'Processing'"))
        batch_op.drop_index('ix_tasks_expires_at')

    op.drop_table('tasks')
    op.drop_table('settings')
    op.drop_table('api_keys')

