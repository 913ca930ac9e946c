from django.contrib import admin

from scripts.models import BatchExecution, Script, ScriptExecution


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "updated_at")


@admin.register(ScriptExecution)
class ScriptExecutionAdmin(admin.ModelAdmin):
    list_display = ("execution_id", "host", "script", "exit_code", "canceled", "created_at")


@admin.register(BatchExecution)
class BatchExecutionAdmin(admin.ModelAdmin):
    list_display = ("batch_execution_id", "script_name", "team", "status", "created_at")
