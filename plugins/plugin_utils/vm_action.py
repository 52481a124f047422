# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the collection's action plugins share: run a module's work on the controller.

Each module of the collection has an action plugin of the same name built on
``VMAction``. It validates the task's arguments against the module's own
argument spec (with the ``VERGEOS_*`` environment fallbacks, including a task's
``environment:``), and runs the module's work (``module_utils.tasks``) in the
controller's process. So a task against an inventory host from the
``vergeos.power.vergeos`` inventory needs no ``delegate_to`` and no connection to
the guest, and with no ``name``/``id``/``names``/``ids``/``filters`` it acts on that
host's own VM, but only when the host's ``vergeos_url`` is the system the task
connects to.

With ``async:`` the module itself is sent to the task's host as any module is
(Ansible's async machinery needs a process on a host to poll): give such tasks
``delegate_to: localhost``. The host's own VM is still filled in.
"""

from __future__ import annotations

import contextlib
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.vergeos.power.plugins.module_utils.client import HAS_REQUESTS, parse_host, same_system
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.argspec import selection_from_params
from ansible_collections.vergeos.power.plugins.module_utils.tasks import MUTUALLY_EXCLUSIVE, failure
from ansible_collections.vergeos.power.plugins.module_utils.vms import has_selection, vm_key

HOST_ID_VAR = 'vergeos_id'
HOST_URL_VAR = 'vergeos_url'


def host_vm_id(params, host_vars, inventory_hostname):
    """Return the VM id to act on for an inventory host, or None to leave the selection to the module.

    A host of the ``vergeos.power.vergeos`` inventory (it carries ``vergeos_url``) belongs to one
    VergeOS system: a task on it that connects to another system is refused, whatever selection
    it was given (two systems can both have a VM 42, and a name or id meant for one would reach
    the other's), unless the task sets ``allow_other_system``. Without a selection, the host's own
    ``vergeos_id`` is the VM. None when the task selects its VMs itself on the host's system, or
    when the host carries no ``vergeos_id`` (``localhost``: the module's own behaviour then applies).
    """
    host_url = host_vars.get(HOST_URL_VAR)
    task_url = parse_host(params.get('host'))
    foreign = host_url is not None and not same_system(str(host_url), task_url)
    if foreign and not params.get('allow_other_system'):
        raise VergeOSError('inventory host %s belongs to the VergeOS system %s, but this task connects to %s: refusing to act on a VM '
                           'of another system (the same VM name or key can be another VM there). Point host at %s for this host (for example '
                           'host: "{{ vergeos_url }}"), or set allow_other_system: true if the task really means VMs of %s'
                           % (inventory_hostname, host_url, task_url, host_url, task_url))
    if has_selection(selection_from_params(params)) or host_vars.get(HOST_ID_VAR) is None:
        return None
    vm_id = vm_key(host_vars[HOST_ID_VAR])
    if host_url is None:
        raise VergeOSError('inventory host %s is VM %s of an unknown system (no vergeos_url): refusing to act on it; give the host '
                           'vergeos_url (the vergeos.power.vergeos inventory sets it), or select the VMs in the task'
                           % (inventory_hostname, vm_id))
    if foreign:
        raise VergeOSError('inventory host %s is VM %s of %s, but this task connects to %s: allow_other_system lets a task select VMs of '
                           'the system it connects to, never act on the host\'s own VM there; select the VMs in the task'
                           % (inventory_hostname, vm_id, host_url, task_url))
    return vm_id


def task_environment(action):
    """Return the task's ``environment:`` as one dict of strings, merged and templated as Ansible does it for a module.

    ``environment`` is a dict or a list of them (the play's, the block's, then the task's: the later ones win); each is
    templated with the task's variables and must give a dict.
    """
    environments = action._task.environment
    if environments is None:
        return {}
    final = {}
    for environment in environments if isinstance(environments, list) else [environments]:
        if not environment:
            continue
        templated = action._templar.template(environment)
        if not isinstance(templated, dict):
            raise AnsibleActionFail('environment must be a dictionary, received %s (%s)' % (templated, type(templated)))
        final.update(templated)
    return {str(name): str(value) for name, value in final.items() if value is not None}


def _leaves(value):
    """Return the strings of a value, down to the scalars of dicts and lists (what remove_values must hide of it)."""
    if isinstance(value, dict):
        return set().union(*(_leaves(item) for item in value.values())) if value else set()
    if isinstance(value, (list, tuple, set)):
        return set().union(*(_leaves(item) for item in value)) if value else set()
    return {str(value)} if value not in (None, '') else set()


def no_log_values(argument_spec, params):
    """Return the values of the options marked ``no_log`` in ``params`` (sub-options included), for remove_values."""
    found = set()
    for name, spec in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if value is None:
            continue
        if spec.get('no_log'):
            found |= _leaves(value)
        if spec.get('options'):
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found |= no_log_values(spec['options'], item)
    return found


# ansible-core converts a boolean given for a number option to a number (true is 1 and 1.0): a typo that would run.
NUMBER_TYPES = ('int', 'float')
# ansible-core 2.19's argument errors name the class of a tagged value ("<class '..._datatag._AnsibleTaggedStr'>").
_CLASS_TEXT = re.compile(r"<class '(?:[\w.]+\.)?(_AnsibleTagged)?(\w+)'>")


def boolean_for_number(argument_spec, args, prefix=''):
    """Return (option, value) of the first option of a number type that ``args`` gives a boolean (sub-options too), or None."""
    for name, spec in argument_spec.items():
        for given in [name] + list(spec.get('aliases') or []):
            value = args.get(given) if isinstance(args, dict) else None
            if spec.get('type') in NUMBER_TYPES and isinstance(value, bool):
                return prefix + given, value
            if spec.get('options'):
                for item in value if isinstance(value, list) else [value]:
                    found = boolean_for_number(spec['options'], item, '%s%s.' % (prefix, given)) if isinstance(item, dict) else None
                    if found:
                        return found
    return None


def plain_types(message):
    """Return an argument error with class reprs as the plain type names a task author knows (str, int)."""
    return _CLASS_TEXT.sub(lambda match: match.group(2).lower() if match.group(1) else match.group(2), message)


@contextlib.contextmanager
def environment_applied(values):
    """Apply environment variables for the block (the worker process is the task's own), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class VMAction(ActionBase):
    """Run a module's work on the controller. Subclasses set ``MODULE``, ``argument_spec`` and ``work``."""

    MODULE = None
    # False for a module that does not select VMs (the maintenance record): the host's own VM is not filled in.
    HOST_VM = True
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE
    _supports_check_mode = True
    _supports_async = True

    @staticmethod
    def argument_spec():
        raise NotImplementedError

    @staticmethod
    def work(params, check_mode, diff):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        super().run(tmp, task_vars)
        del tmp
        if not HAS_REQUESTS:
            raise AnsibleActionFail(missing_required_lib('requests'))
        argument_spec = self.argument_spec()
        with environment_applied(task_environment(self)):
            # The fallbacks (VERGEOS_*) are read while the task's environment is in place.
            validation = ArgumentSpecValidator(argument_spec, mutually_exclusive=list(self.MUTUALLY_EXCLUSIVE)).validate(dict(self._task.args))
        # What the task gave and what the fallbacks read, for every no_log option.
        secrets = no_log_values(argument_spec, validation.validated_parameters) | no_log_values(argument_spec, self._task.args)
        if validation.error_messages:
            return remove_values({'failed': True, 'changed': False, 'msg': self._validation_message(validation)}, secrets)
        given = boolean_for_number(argument_spec, self._task.args)
        if given:
            return remove_values({'failed': True, 'changed': False,
                                  'msg': "argument '%s' must be a number, not the boolean %s" % given}, secrets)
        params = validation.validated_parameters
        try:
            vm_id = host_vm_id(params, self._host_identity(task_vars), task_vars.get('inventory_hostname')) if self.HOST_VM else None
        except VergeOSError as exc:
            return remove_values(failure(exc), secrets)
        if vm_id is not None:
            params['id'] = vm_id
        if self._task.async_val:
            return self._run_module_async(params if vm_id is not None else None, task_vars)
        result = self.work(params, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff), **self.work_options(params))
        result['invocation'] = {'module_args': remove_values(params, secrets)}
        return remove_values(result, secrets)

    def _host_identity(self, task_vars):
        """Return the host's vergeos_id and vergeos_url, templated (an inventory may set them from other variables)."""
        found = {}
        for name in (HOST_ID_VAR, HOST_URL_VAR):
            if task_vars.get(name) is not None:
                found[name] = self._templar.template(task_vars[name])
        return found

    def work_options(self, params):  # pylint: disable=unused-argument
        """Return extra keyword arguments for ``work`` (a subclass adds its own, e.g. a progress callback)."""
        return {}

    def _validation_message(self, validation):
        """Return the message AnsibleModule gives for the first argument error, naming the module as it does."""
        message = plain_types(validation.errors.msg)
        if isinstance(validation.errors[0], UnsupportedError):
            message = 'Unsupported parameters for (%s) module: %s' % (self.MODULE, message)
        return message

    def _run_module_async(self, params, task_vars):
        """Hand the task to the module on the task's host, as Ansible does for async (with the host's VM filled in)."""
        module_args = dict(self._task.args)
        if params is not None:
            module_args['id'] = params['id']
        wrap_async = not self._connection.has_native_async
        result = self._execute_module(module_name=self.MODULE, module_args=module_args, task_vars=task_vars, wrap_async=wrap_async)
        if not wrap_async:
            # As ansible-core's own action plugins (normal) do; nothing public names the remote tmp dir.
            # tests/functional/packaging/test_private_interfaces.py fails the day this attribute goes.
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
