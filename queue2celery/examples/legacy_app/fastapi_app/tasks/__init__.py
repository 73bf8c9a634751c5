"""后台任务：worker.py 的模块级队列和工作线程，manager.py 的任务管理器。"""
